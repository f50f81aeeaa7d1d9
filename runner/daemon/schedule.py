"""When each job is due: every `interval` seconds, or at the times of its `cron` expression
(local time, as cron reads it), plus up to `jitter` seconds so that jobs do not all start on
the same second. Times are `time.time()` seconds."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from runner.config import Job


@dataclass
class Due:
    job: Job
    at: float  # when it runs next

    def advance(self, now: float) -> None:
        """The next time after `now` (a tick that was missed is not made up twice)."""
        self.at = next_time(self.job, max(now, self.at))


def next_time(job: Job, after: float) -> float:
    jitter = random.uniform(0.0, job.jitter) if job.jitter > 0 else 0.0
    if job.cron:
        from runner.config.cron import next_runs

        start = datetime.fromtimestamp(after).astimezone()
        return next_runs(job.cron, start, 1)[0].timestamp() + jitter
    return after + float(job.interval or 60.0) + jitter


def first_time(job: Job, now: float) -> float:
    """An interval job runs at once (within its jitter), a cron job at its next time."""
    if job.cron:
        return next_time(job, now)
    return now + (random.uniform(0.0, job.jitter) if job.jitter > 0 else 0.0)


def period(job: Job) -> float:
    """Seconds between two runs: the interval, or the gap between two cron times."""
    if job.cron:
        from runner.config.cron import next_runs

        first, second = next_runs(job.cron, datetime.now().astimezone(), 2)
        return (second - first).total_seconds()
    return float(job.interval or 60.0)
