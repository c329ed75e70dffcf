"""Benchmark: load, merge, compile and validate the city process and all 11 districts.

Prints, in one run:
  * baseline: composing the same YAML files with ruamel.yaml and nothing else
    (the floor the loader stands on);
  * cold: a fresh Python process importing the engine and building everything
    (goal <= 1 s), and the same without the import time;
  * warm: building everything again in the same process;
  * recompile one changed district against an already loaded central process
    (what a service does when one district file changes; goal <= 150 ms).

Run: .venv/bin/python bench/compile.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLD = """
import time, json
t0 = time.perf_counter()
from engine import build
t1 = time.perf_counter()
result = build(["processes", "local_overrides"])
t2 = time.perf_counter()
assert not result.findings and len(result.districts) == 11
print(json.dumps({"import": t1 - t0, "build": t2 - t1}))
"""


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def row(name: str, samples: list[float], goal: str = "") -> None:
    ms = [s * 1000 for s in samples]
    print(f"{name:<52} median {statistics.median(ms):8.1f} ms   min {min(ms):8.1f} ms   n={len(ms):<3} {goal}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from engine import build, compile_process, load_override, load_process, merge_override, validate_process
    from engine.load import _YAML

    files = [ROOT / "processes" / "bryt_upp.yaml", *sorted((ROOT / "local_overrides").glob("*.yaml"))]
    texts = [f.read_text(encoding="utf-8") for f in files]
    lines = sum(t.count("\n") for t in texts)
    print(f"{len(files)} files, {lines} lines, Python {sys.version.split()[0]}\n")

    row("baseline: ruamel.yaml parse events of all files", timed(lambda: [list(_YAML.parse(t)) for t in texts], args.repeat))

    cold = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", COLD], cwd=ROOT, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        cold.append((wall, json.loads(out.stdout)))
    row("cold: new process, import + build 11 districts", [c[1]["import"] + c[1]["build"] for c in cold], "(goal <= 1000 ms)")
    row("cold: build only (imports done)", [c[1]["build"] for c in cold])
    row("cold: whole interpreter start to exit", [c[0] for c in cold])

    paths = [ROOT / "processes", ROOT / "local_overrides"]
    row("warm: build 11 districts again in-process", timed(lambda: build(paths), args.repeat))

    central_doc = load_process(ROOT / "processes" / "bryt_upp.yaml")
    central = compile_process(merge_override(central_doc))
    farsta = ROOT / "local_overrides" / "farsta.yaml"

    def recompile() -> None:
        compiled = compile_process(merge_override(central_doc, load_override(farsta)))
        assert validate_process(compiled, central) == []

    row("recompile one changed district (farsta)", timed(recompile, args.repeat * 4), "(goal <= 150 ms)")
    compiled = compile_process(merge_override(central_doc, load_override(farsta)))
    row("  of which validate_process alone", timed(lambda: validate_process(compiled, central), args.repeat * 4))


if __name__ == "__main__":
    main()
