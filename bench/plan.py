"""Benchmark: what the plan stage costs a `urs run`, with a warm plan cache and with a cold one.

Run by hand (not in CI):  python bench/plan.py --repeat 15 [--tree DIR]...
Each --tree is a checkout of urs (default: this one), so two versions can be compared:

    git archive OLD_COMMIT | tar -x -C /tmp/urs-old && python bench/plan.py --tree /tmp/urs-old .

Cases: 20 plain steps (the bench/run.py localhost case); 20 templated steps (vars in every
command and a `when`: jinja2 is imported at run time anyway); 20 checks whose `recover` alone is
templated (a healthy run renders nothing). Modes: `warm` reuses one cache folder after a warm-up
run (cron's case); `cold` gives every run an empty one (a playbook's first run after a change);
`off` points the cache at a path that cannot be a folder, so nothing is read or written (the
cost of planning without a cache, plus computing the key).
Prints the median wall time of `python -m runner run` and, measured inside one process, the
median time of `plan.build` alone (with the imports it triggers).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "plain": "steps:\n" + "".join(
        f"  - {{name: s{i}, run: 'echo step-{i} > /dev/null'}}\n" for i in range(20)),
    "templated": "vars: {out: /dev/null, enabled: true}\nsteps:\n" + "".join(
        f"  - {{name: s{i}, when: enabled,"
        f" run: 'echo {{{{ playbook_name }}}}{i} > {{{{ out }}}}'}}\n" for i in range(20)),
    "recover-templated": "vars: {svc: web}\nsteps:\n" + "".join(
        f"  - {{name: s{i}, check: 'true', recover: 'echo restart {{{{ svc }}}}-{i}'}}\n"
        for i in range(20)),
}

# plan.build timed in one process: the imports it triggers (networkx, jinja2) included
IN_PROCESS = """
import sys, time
from runner import load, plan
from runner.modules import registry
book = load.load([sys.argv[1]], {k: m.fields for k, m in registry().items()})
start = time.perf_counter()
plan.build(book, ())
print(time.perf_counter() - start)
"""


def _env(tree: Path, cache: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "XDG_CACHE_HOME": str(cache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    took = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{argv} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return took, out.stdout


def measure(tree: Path, book: Path, mode: str, repeat: int, work: Path) -> tuple[float, float]:
    """(median seconds of `urs run`, median seconds of plan.build in-process)."""
    run = [sys.executable, "-m", "runner", "run", str(book), "--store", str(work / "urs.db")]
    build = [sys.executable, "-c", IN_PROCESS, str(book)]
    warm = Path(tempfile.mkdtemp(dir=work))
    walls, builds = [], []
    _run(run, _env(tree, warm), work)  # warm-up: bytecode, store, the warm cache
    for _ in range(repeat):
        walls.append(_run(run, _env(tree, _cache(mode, warm, work)), work)[0])
        builds.append(float(_run(build, _env(tree, _cache(mode, warm, work)), work)[1]))
    return statistics.median(walls), statistics.median(builds)


def _cache(mode: str, warm: Path, work: Path) -> Path:
    if mode == "warm":
        return warm
    if mode == "off":
        return Path(os.devnull) / "no-cache"
    return Path(tempfile.mkdtemp(dir=work))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--tree", type=Path, action="append")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--modes", default="warm,cold,off")
    args = parser.parse_args()
    trees = [t.resolve() for t in args.tree or [ROOT]]
    for tree in trees:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "runner")],
                       check=True)
    work = Path(tempfile.mkdtemp(prefix="urs-bench-plan-"))
    print(f"{'tree':<24}{'case':<20}{'mode':<6}{'urs run':>10}{'plan.build':>12}")
    for tree in trees:
        for case in args.cases.split(","):
            book = work / f"{case}.yml"
            book.write_text(CASES[case])
            for mode in args.modes.split(","):
                wall, build = measure(tree, book, mode, args.repeat, work)
                print(f"{tree.name[:23]:<24}{case:<20}{mode:<6}{wall * 1000:>8.0f}ms"
                      f"{build * 1000:>10.1f}ms", flush=True)


if __name__ == "__main__":
    main()
