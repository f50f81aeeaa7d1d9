"""Real daemons with sub-second intervals in temporary projects: jobs on schedule, overlapping
ticks skipped, a broken job beside good ones, SIGHUP with a valid and an invalid file, SIGTERM
during a long step, a second daemon refused, files re-read when they change, `--once`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from tests.helpers import urs, wait_for
from tests.integration.daemontools import Project, command_channel, messages

QUICK = "  quick: {playbooks: [quick], interval: 0.2s}\n"


def test_jobs_run_on_schedule_and_a_broken_job_stops_nothing(project: Project) -> None:
    project.book("quick", "steps: [{name: hello, run: 'echo hello'}]")
    project.book("broken", "steps: [{name: oops, run: 'echo {{ 1 / 0 }}'}]")
    project.book("invalid", "steps: [{name: oops, ruun: 'true'}]")
    project.config(QUICK + "  broken: {playbooks: [broken], interval: 0.2s}\n"
                   "  invalid: {playbooks: [invalid], interval: 0.2s}\n")
    proc = project.start()
    project.wait(lambda: project.runs("quick") >= 3
                    and project.runs("broken", "failed") >= 2
                    and project.runs("invalid", "invalid") >= 2)
    assert proc.poll() is None
    [(reason,)] = project.rows("SELECT reason FROM runs WHERE job = 'invalid' LIMIT 1")
    assert "ruun" in str(reason) and "did you mean 'run'" in str(reason)
    out = project.stop(proc)
    assert "quick: hello on localhost: ok" in out
    status = urs("status", "--store", str(project.store))
    assert "daemon on" in status.stdout and "stopped at" in status.stdout
    assert "\nquick " in status.stdout  # the jobs' table


def test_an_overlapping_tick_is_skipped_and_recorded(project: Project) -> None:
    gate = project.root / "gate"
    project.book("slow", f"""
steps:
  - name: wait
    run: "i=0; while [ ! -e {gate} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done"
""")
    project.config("  slow: {playbooks: [slow], interval: 0.2s}\n")
    proc = project.start()
    project.wait(lambda: project.runs("slow", "skipped") >= 2)
    assert project.runs("slow", "running") == 1
    gate.touch()
    project.wait(lambda: project.runs("slow", "ok") >= 1)
    [(reason,)] = project.rows("SELECT reason FROM runs WHERE status = 'skipped' LIMIT 1")
    assert str(reason).startswith("the previous run of job slow is still running")
    project.stop(proc)


def test_sigterm_during_a_long_step_stops_it_records_and_exits_0(project: Project) -> None:
    started = project.root / "started"
    project.book("long", f"steps: [{{name: nap, run: 'touch {started}; sleep 600'}}]")
    project.config("  long: {playbooks: [long], interval: 1h}\n")
    proc = project.start("--grace", "0.2")
    assert wait_for(started.exists)
    project.stop(proc)
    assert project.rows("SELECT status, reason FROM step_outcomes") == [
        ("interrupted", "interrupted: the daemon is stopping")]
    assert project.rows("SELECT status FROM runs") == [("interrupted",)]


def test_sighup_reloads_a_valid_file_and_keeps_the_old_one_when_invalid(
        project: Project) -> None:
    project.book("quick", "steps: [{name: hello, run: 'echo hello'}]")
    project.book("other", "steps: [{name: hi, run: 'echo hi'}]")
    project.config(QUICK)
    proc = project.start("--log-format", "json")
    project.wait(lambda: project.runs("quick") >= 1)
    project.config(QUICK + "  other: {playbooks: [other], interval: 0.2s}\n")
    proc.send_signal(signal.SIGHUP)
    project.wait(lambda: project.runs("other") >= 1)
    project.config("  quick: {playbooks: [quick], intervall: 0.2s}\n")
    proc.send_signal(signal.SIGHUP)
    before = project.runs("other")
    project.wait(lambda: project.runs("other") >= before + 2)  # the old jobs go on
    out = project.stop(proc)
    lines = [json.loads(line) for line in out.splitlines()]
    refused = [line for line in lines if line["message"].startswith("reload refused")]
    assert refused and "intervall" in refused[0]["message"]
    assert refused[0]["level"] == "error"
    assert any(line["message"].startswith("reloaded: 2 jobs") for line in lines)


def test_a_second_daemon_is_refused_naming_the_first(project: Project) -> None:
    project.book("quick", "steps: [{name: hello, run: 'echo hello'}]")
    project.config(QUICK)
    first = project.start()
    project.wait(lambda: project.runs("quick") >= 1)
    second = urs("daemon", cwd=project.root)
    assert second.returncode == 3
    assert f"another urs daemon runs with {project.root / 'urs.yml'}" in second.stderr
    assert f"pid {first.pid}" in second.stderr
    project.stop(first)


def test_playbooks_are_read_again_when_they_change(project: Project) -> None:
    project.book("quick", "steps: [{name: hello, run: 'echo one'}]")
    project.config(QUICK)
    proc = project.start()
    project.wait(lambda: project.runs("quick") >= 1)
    project.book("quick", "steps: [{name: hello, run: 'echo two and more'}]")
    project.wait(lambda: ("two and more\n",) in project.rows(
        "SELECT stdout_tail FROM step_outcomes"))
    project.stop(proc)


def test_once_runs_every_enabled_job_and_exits_with_the_usual_code(project: Project) -> None:
    project.book("quick", "steps: [{name: hello, run: 'echo hello'}]")
    project.book("failing", "steps: [{name: nope, run: 'exit 3'}]")
    project.config(QUICK + "  failing: {playbooks: [failing], interval: 1h}\n"
                   "  off: {playbooks: [failing], interval: 1h, enabled: false}\n")
    out = urs("daemon", "--once", cwd=project.root)
    assert out.returncode == 1, out.stdout + out.stderr
    assert sorted(r[0] for r in project.rows("SELECT job FROM runs")) == ["failing", "quick"]
    project.config(QUICK)
    assert urs("daemon", "--once", cwd=project.root).returncode == 0


def test_urs_logs_shows_outcomes_with_output_and_follows(project: Project) -> None:
    project.book("quick", "steps: [{name: hello, run: 'echo first-line; exit 1'}]")
    project.config(QUICK)
    assert urs("daemon", "--once", cwd=project.root).returncode == 1
    shown = urs("logs", "--store", str(project.store))
    assert "failed      localhost  quick/hello [quick]" in shown.stdout
    assert "    | first-line" in shown.stdout
    follow = subprocess.Popen([sys.executable, "-m", "runner", "logs", "-f", "-n", "1",
                               "--store", str(project.store)], stdout=subprocess.PIPE, text=True)
    try:
        project.book("quick", "steps: [{name: hello, run: 'echo second-line'}]")
        assert urs("daemon", "--once", cwd=project.root).returncode == 0
        assert follow.stdout is not None
        seen = [follow.stdout.readline() for _ in range(4)]
        assert any("second-line" in line for line in seen), seen
    finally:
        follow.kill()
        follow.wait()


def test_a_job_past_its_timeout_is_stopped_recorded_and_the_daemon_goes_on(
        project: Project) -> None:
    project.book("long", "steps: [{name: nap, run: 'sleep 600'}]")
    project.book("quick", "steps: [{name: hello, run: 'echo hello'}]")
    project.config(QUICK + "  long: {playbooks: [long], interval: 0.2s, timeout: 0.5s}\n")
    proc = project.start()
    # the daemon goes on: quick keeps passing while long is stopped at each deadline
    project.wait(lambda: project.runs("long", "interrupted") >= 2 and project.runs("quick") >= 2)
    [(reason,)] = project.rows("SELECT reason FROM step_outcomes WHERE step = 'nap' LIMIT 1")
    assert reason == "interrupted: the run's deadline passed (--max-runtime 0.5s)"
    project.stop(proc)


def test_the_daemon_announces_incidents_of_its_jobs(project: Project) -> None:
    received = project.root / "received"
    project.book("web", "steps: [{name: web, run: 'exit 1'}]")
    project.config("  web: {playbooks: [web], interval: 0.2s, max_failures: 2}\n",
                   f"notifications:\n  channels: [{json.dumps(command_channel(received))}]\n")
    proc = project.start()
    project.wait(lambda: messages(received))
    message = messages(received)[0]
    assert message["event"] == "opened"
    assert [(i["playbook"], i["step"], i["failures"]) for i in message["incidents"]] == [
        ("web", "web", 2)]
    project.stop(proc)
