"""Benchmark cases for the daemon: ticks in one process (run by bench/run.py --case ...).

- warm: one tick of health-pm2-like checks across N SSH hosts, three ways: a cold `urs run`
  process per tick; in one process with a new connection per host each tick
  (pipeline.run with the default connector); in one process with warm connections (the pool).
  The first tick of each is a warm-up (imports, plan cache, connections); the rest are timed.
- memory: many ticks of a tiny playbook through pipeline.prepare + pipeline.run in one process,
  local or over SSH with the pool; RSS sampled along the way must stay flat.
"""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from runner import pipeline
from runner.connections import Connection
from runner.connections.pool import Pool
from runner.inventory import Host
from tests.sshd import Fleet, SSHHost

# the shape of health-pm2: present -> daemon alive -> apps online, memory, restarts
HEALTH = """\
name: health-pm2-like
hosts: all
steps:
  - {name: pm2-present, check: 'command -v pm2 || command -v sh'}
  - {name: daemon-alive, needs: pm2-present, check: 'test -f "$HOME/.pm2/pm2.pid"'}
  - name: apps-online
    needs: daemon-alive
    check: "echo '[{\\"name\\": \\"api\\", \\"status\\": \\"online\\"}]' | grep -q online"
  - name: memory
    needs: daemon-alive
    check: "test $(awk '/MemAvailable/ {print $2}' /proc/meminfo) -gt 1000"
  - {name: restarts, needs: apps-online, run: 'echo 0'}
"""
HEALTH_STEPS = 5
TINY = "name: tiny\nsteps:\n  - {name: a, run: 'echo a'}\n  - {name: b, needs: a, check: 'true'}\n"


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _ticker(loaded: pipeline.Loaded, store: Path, connect: Callable[[Host], Connection] | None,
            known_hosts: Path | None = None) -> Callable[[int], float]:
    def tick(n: int) -> float:
        start = time.perf_counter()
        result = pipeline.run(loaded, pipeline.Options(
            run_id=f"tick-{n}", store=store, connect=connect, known_hosts=known_hosts))
        took = time.perf_counter() - start
        if result.exit_code != 0:
            raise RuntimeError(f"tick {n} ended {result.status}")
        return took
    return tick


def _median_after_warmup(tick: Callable[[int], float], ticks: int) -> float:
    tick(0)
    return statistics.median(tick(n) for n in range(1, ticks + 1))


def warm(fleet: Fleet, work: Path, ticks: int) -> None:
    for host in fleet.hosts:
        (host.home / ".pm2").mkdir(parents=True, exist_ok=True)
        (host.home / ".pm2" / "pm2.pid").write_text("1\n")
    print(f"one tick: {HEALTH_STEPS} health-pm2-like checks on each SSH host, median of "
          f"{ticks} ticks after one warm-up")
    for hosts in (fleet.hosts[:1], fleet.hosts):
        _warm_case(fleet, hosts, work / f"hosts{len(hosts)}", ticks)


def _warm_case(fleet: Fleet, hosts: list[SSHHost], work: Path, ticks: int) -> None:
    work.mkdir(parents=True, exist_ok=True)
    book = work / "health.yml"
    book.write_text(HEALTH)
    inv = fleet.inventory(work / "inventory.ini", hosts)
    cold_argv = [sys.executable, "-m", "runner", "run", str(book), "-i", str(inv),
                 "--known-hosts", str(fleet.known_hosts), "--store", str(work / "cold.db")]

    def cold(n: int) -> float:
        start = time.perf_counter()
        out = subprocess.run(cold_argv, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"urs run failed ({out.returncode}):\n{out.stdout}{out.stderr}")
        return time.perf_counter() - start

    loaded = pipeline.prepare([str(book)], [str(inv)], [], None)
    pool = Pool()
    try:
        times = {
            "cold `urs run` process": _median_after_warmup(cold, ticks),
            "one process, new connections": _median_after_warmup(
                _ticker(loaded, work / "fresh.db", None, fleet.known_hosts), ticks),
            "one process, warm pool": _median_after_warmup(
                _ticker(loaded, work / "warm.db", pool.connector(fleet.known_hosts)), ticks),
        }
    finally:
        pool.close()
    print(f" {len(hosts)} host{'s' if len(hosts) > 1 else ''} ({pool.stats()})")
    for name, took in times.items():
        ratio = took / times["one process, warm pool"]
        print(f"  {name:<32}{1000 * took:8.1f} ms  {ratio:5.1f}x", flush=True)


def memory(work: Path, ticks: int, fleet: Fleet | None) -> None:
    """RSS over many ticks; over SSH (fleet given) through the pool."""
    work.mkdir(parents=True, exist_ok=True)
    book = work / "tiny.yml"
    book.write_text(TINY.replace("name: tiny\n", "name: tiny\nhosts: all\n") if fleet else TINY)
    inventories = [str(fleet.inventory(work / "inventory.ini"))] if fleet else []
    loaded = pipeline.prepare([str(book)], inventories, [], None)
    pool = Pool()
    connect = pool.connector(fleet.known_hosts) if fleet else None
    tick = _ticker(loaded, work / "memory.db", connect)
    where = f"{len(fleet.hosts)} SSH hosts, pool" if fleet else "localhost"
    print(f"memory: {ticks} ticks of a 2-step playbook on {where}, one process")
    samples: list[tuple[int, int, int]] = []  # tick, RSS KiB, Python's allocated blocks
    started = window = time.perf_counter()
    every = max(1, ticks // 10)
    try:
        for n in range(ticks + 1):
            tick(n)
            if n % every == 0 or n == ticks:
                per_tick = 1000 * (time.perf_counter() - window) / (every if n else 1)
                gc.collect()
                samples.append((n, rss_kib(), sys.getallocatedblocks()))
                print(f"  after tick {n:>6}: RSS {samples[-1][1] / 1024:7.1f} MiB, "
                      f"{samples[-1][2]:>8} Python blocks, {per_tick:6.1f} ms per tick",
                      flush=True)
                window = time.perf_counter()
    finally:
        pool.close()
    took = time.perf_counter() - started
    base, last = samples[len(samples) // 2], samples[-1]  # the second half: warmed up
    print(f"  {took:.0f} s in all ({1000 * took / (ticks + 1):.1f} ms per tick); from tick "
          f"{base[0]} to {ticks}: RSS {(last[1] - base[1]) / 1024:+.1f} MiB, "
          f"Python blocks {last[2] - base[2]:+}")
