"""Scale: how urs's cost grows with the size of its input. Run by hand (not in CI):

    python3 bench/scale.py [--repeat 3] [--outcomes 1000000] [--only chain,graph,...]
                           [--tree OTHER_CHECKOUT]

- chain: `urs run --check` of a 5000-step chain (each step needs the previous one);
- graph: `urs run --check` of a 2000-step graph (each step needs up to 3 earlier ones);
- inventory: loading 10,000 hosts in 100 groups (INI and YAML), in-process;
- hosts: `urs run` of 5 steps on 200 local hosts, wall time and peak memory (max RSS);
- store: `urs status` and `urs history` on a store of --outcomes step outcomes.

Each prints the median of --repeat runs (after one warm-up run, so the plan cache is warm as
in cron's case; `cold` lines clear it first), next to `python3 -c pass` and `urs --version` as
the floor every command pays.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def urs(*args: str, work: Path) -> list[str]:
    return [sys.executable, "-m", "runner", *args, "--store", str(work / "urs.db")] \
        if args[0] in {"run", "status", "history"} else [sys.executable, "-m", "runner", *args]


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and the command's peak RSS in KB, as GNU time reports it (a child forked
    from this process would count this process's pages). cwd: not a checkout, whose runner/
    would shadow PYTHONPATH's."""
    start = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], capture_output=True, text=True,
                         env=env, cwd=cwd, check=False)
    took = time.perf_counter() - start
    if out.returncode not in (0, 1):
        raise RuntimeError(f"{argv} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return took, int(out.stderr.strip().splitlines()[-1])


def median(run: Callable[[], float], repeat: int) -> float:
    run()
    return statistics.median(run() for _ in range(repeat))


def chain(count: int) -> str:
    return "steps:\n" + "".join(f"  - {{name: s{i}, run: 'true'"
                                + (f", needs: s{i - 1}" if i else "") + "}\n"
                                for i in range(count))


def graph(count: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        needs = sorted({f"s{rng.randrange(i)}" for _ in range(rng.randint(0, 3))}) if i else []
        lines.append(f"  - {{name: s{i}, run: 'true', needs: {json.dumps(needs)}}}\n")
    return "steps:\n" + "".join(lines)


def inventory_ini(hosts: int, groups: int = 100) -> str:
    per = hosts // groups
    return "[all:vars]\nenv=prod\n" + "".join(
        f"[g{g}]\n" + "".join(f"h{g}-{i} ansible_host=10.{g}.{i // 250}.{i % 250}\n"
                              for i in range(per)) + f"[g{g}:vars]\nzone=z{g % 4}\n"
        for g in range(groups))


def inventory_yaml(hosts: int, groups: int = 100) -> str:
    per = hosts // groups
    body = {"all": {"vars": {"env": "prod"}, "children": {
        f"g{g}": {"vars": {"zone": f"z{g % 4}"},
                  "hosts": {f"h{g}-{i}": {"ansible_host": f"10.{g}.{i // 250}.{i % 250}"}
                            for i in range(per)}} for g in range(groups)}}}
    return json.dumps(body)


def fill_store(path: Path, outcomes: int, hosts: int = 5, steps: int = 20) -> None:
    """A store (already made by the urs measured) with `outcomes` step outcomes: runs of
    `steps` steps on `hosts` hosts."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous = OFF")
    start = time.time() - outcomes // (hosts * steps) * 60
    db.execute("BEGIN")
    for number in range(outcomes // (hosts * steps)):
        run_id, book, at = uuid.uuid4().hex, f"book{number % 4}", start + number * 60
        db.execute("INSERT INTO runs (id, playbook, playbooks, hosts, check_mode, status, "
                   "exit_code, started_at, ended_at, pid, control_host) VALUES "
                   "(?, ?, '[]', '[]', 0, 'ok', 0, ?, ?, 1, 'bench')", (run_id, book, at, at + 5))
        db.executemany(
            "INSERT INTO step_outcomes (run_id, playbook, host, step, status, rc, attempts, "
            "duration_s, reason, stdout_tail, stderr_tail, changed, started_at, ended_at, "
            "fields) VALUES (?, ?, ?, ?, 'ok', 0, 1, 0.1, '', '', '', 0, ?, ?, '{}')",
            [(run_id, book, f"h{h}", f"step{s}", at, at + 1)
             for h in range(hosts) for s in range(steps)])
    db.execute("COMMIT")
    db.close()


class Bench:
    def __init__(self, work: Path, repeat: int, tree: Path) -> None:
        self.work, self.repeat = work, repeat
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "PYTHONPATH": str(tree),
                    "XDG_CACHE_HOME": str(work / "cache"), "XDG_STATE_HOME": str(work / "state")}

    def wall(self, argv: list[str], cold: bool = False) -> tuple[float, int]:
        peaks: list[int] = []

        def once() -> float:
            if cold:
                shutil.rmtree(self.work / "cache", ignore_errors=True)
            took, peak = timed(argv, self.env, self.work)
            peaks.append(peak)
            return took
        return median(once, self.repeat), max(peaks)

    def report(self, label: str, seconds: float, peak_kb: int | None = None) -> None:
        memory = f"  max RSS {peak_kb / 1024:.0f} MB" if peak_kb else ""
        print(f"{label:<52} {seconds:7.3f} s{memory}", flush=True)

    def floor(self) -> None:
        self.report("python3 -c pass", self.wall([sys.executable, "-c", "pass"])[0])
        self.report("urs --version", self.wall(urs("--version", work=self.work))[0])

    def plans(self, name: str, text: str) -> None:
        book = self.work / f"{name}.yml"
        book.write_text(text)
        for cold in (False, True):
            took, _ = self.wall(urs("run", str(book), "--check", work=self.work), cold)
            self.report(f"{name}: urs run --check ({'cold' if cold else 'warm'} plan cache)",
                        took)
        self.in_process(book)

    def in_process(self, book: Path) -> None:
        from runner import load, plan
        from runner.modules import registry

        modules = {k: m.fields for k, m in registry().items()}
        start = time.perf_counter()
        loaded = load.load([str(book)], modules)
        loaded_at = time.perf_counter()
        plan.build(loaded, ())
        self.report(f"{book.stem}: load, in process", loaded_at - start)
        self.report(f"{book.stem}: plan.build (cache warm), in process",
                    time.perf_counter() - loaded_at)

    def inventories(self) -> None:
        from runner.inventory.sources import load_inventory

        for suffix, text in (("ini", inventory_ini(10_000)), ("yml", inventory_yaml(10_000))):
            path = self.work / f"inv10k.{suffix}"
            path.write_text(text)
            took = median(lambda p=path: _took(lambda: load_inventory([str(p)])), self.repeat)
            self.report(f"inventory: 10,000 hosts ({suffix}), in process", took)
            self.report(f"inventory: urs inventory --list ({suffix})",
                        self.wall(urs("inventory", "-i", str(path), "--list",
                                      work=self.work))[0])

    def hosts(self, count: int = 200) -> None:
        inv = self.work / "local200.ini"
        inv.write_text("[fleet]\n" + "".join(f"host{i} ansible_connection=local\n"
                                             for i in range(count)))
        book = self.work / "five.yml"
        book.write_text("steps:\n" + "".join(f"  - {{name: s{i}, run: 'true'}}\n"
                                             for i in range(5)))
        took, peak = self.wall(urs("run", str(book), "-i", str(inv), "--forks", "50",
                                   work=self.work))
        self.report(f"hosts: urs run, 5 steps x {count} local hosts", took, peak)

    def store(self, outcomes: int) -> None:
        timed(urs("history", work=self.work), self.env, self.work)  # the store, its schema
        fill_store(self.work / "urs.db", outcomes)
        for command in ("status", "history"):
            took, peak = self.wall(urs(command, work=self.work))
            self.report(f"store: urs {command}, {outcomes:,} step outcomes", took, peak)


def _took(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--outcomes", type=int, default=1_000_000)
    parser.add_argument("--only", default="floor,chain,graph,inventory,hosts,store")
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="the checkout whose urs runs (in-process lines use this one)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="urs-scale-") as folder:
        bench = Bench(Path(folder), args.repeat, args.tree.resolve())
        steps = {"floor": bench.floor, "chain": lambda: bench.plans("chain5000", chain(5000)),
                 "graph": lambda: bench.plans("graph2000", graph(2000)),
                 "inventory": bench.inventories, "hosts": bench.hosts,
                 "store": lambda: bench.store(args.outcomes)}
        for name, step in steps.items():
            if name in only:
                step()


if __name__ == "__main__":
    main()
