"""Times the netlify module on a generated site of N functions (default 500): validating it
with an empty syntax cache, regenerating its manifest, and re-validating it unchanged (syntax
results come from the sha256 cache). Run by hand:

    python3 bench/netlify.py --functions 500 --repeat 3
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

KINDS = [
    ("{i}.mjs", "import {{ readFileSync }} from 'node:fs';\nimport h from './lib/helper.mjs';\n"
                "export default async () => new Response('f{i}');\n"),
    ("{i}.js", "const left = require('left');\nexports.handler = async () => "
               "({{ statusCode: 200, body: left('f{i}') }});\n"),
    ("{i}-background.mjs", "export default async () => {{ console.log({i}); }};\n"),
    ("{i}.cjs", "exports.handler = async () => ({{ statusCode: 200 }});\n"),
    ("{i}/index.js", "const u = require('./util');\nexports.handler = async () => "
                     "({{ statusCode: 200, body: String(u) }});\n"),
]


def make_site(root: Path, count: int) -> Path:
    api = root / "netlify" / "functions"
    (api / "lib").mkdir(parents=True)
    (api / "lib" / "helper.mjs").write_text("export default 1;\n")
    (root / "package.json").write_text(json.dumps({"name": "b", "dependencies": {"left": "1"}}))
    (root / "node_modules" / "left").mkdir(parents=True)
    (root / "node_modules" / "left" / "package.json").write_text('{"name": "left"}')
    (root / "node_modules" / "left" / "index.js").write_text("module.exports = (s) => s;\n")
    for i in range(count):
        name, text = KINDS[i % len(KINDS)]
        path = api / f"f{name.format(i=i)}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(i=i))
        if name.startswith("{i}/"):
            (path.parent / "util.js").write_text(f"module.exports = {i};\n")
    return root


def timed(book: Path, cache: Path) -> tuple[float, float]:
    """The whole `urs run` (wall) and the step itself (its recorded duration)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(ROOT),
           "URS_STORE": str(cache / "store.db")}
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "runner", "run", str(book), "--json"], env=env,
                         capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if out.returncode != 0:
        raise SystemExit(out.stdout + out.stderr)
    events = [json.loads(line) for line in out.stdout.splitlines()]
    (step,) = [e["duration_s"] for e in events if e["event"] == "step_finished"]
    return elapsed, float(step)


def once(count: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        site = make_site(Path(tmp) / "site", count)
        cache = Path(tmp) / "cache"
        cache.mkdir()
        valid = Path(tmp) / "valid.yml"
        valid.write_text(f"steps:\n  - {{name: v, check: {{netlify: {{state: valid, "
                         f"site_path: {site}}}}}}}\n")
        regen = Path(tmp) / "regen.yml"
        regen.write_text(f"steps:\n  - {{name: m, netlify: {{state: manifest, "
                         f"site_path: {site}}}}}\n")
        return {"validate (cold cache)": timed(valid, cache),
                "regenerate manifest": timed(regen, cache),
                "validate (unchanged)": timed(valid, cache)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--functions", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [once(args.functions) for _ in range(args.repeat)]
    print(f"{args.functions} functions, medians of {args.repeat} runs")
    for case in runs[0]:
        wall = statistics.median(r[case][0] for r in runs)
        step = statistics.median(r[case][1] for r in runs)
        print(f"{case:24} urs run {wall:5.2f} s, the step {step:5.2f} s")
    cold = statistics.median(r["validate (cold cache)"][1] for r in runs)
    warm = statistics.median(r["validate (unchanged)"][1] for r in runs)
    print(f"unchanged site re-validated {cold / warm:.1f}x faster (the step)")


if __name__ == "__main__":
    main()
