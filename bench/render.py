"""Benchmark: drawing each district's process with Graphviz (engine/render.py).

Prints, in one run:
  * baseline: `dot` on a trivial 3-node graph through the same `graphviz` package
    (the cost of starting `dot` at all, the floor every render stands on);
  * per district, cold (the render cache cleared first) and cached: the SVG of the
    district's process as a manager's page asks for it (goal: cold <= 300 ms),
    split into building the diagram (Python) and running `dot`;
  * cold PNG, PDF and the diff view, for comparison;
  * the two levels the pages open on (engine/overview.py): the overview by phase and the views of
    single phases (each district's largest phase, and all its phases in turn), built and rendered,
    and the phase view with live figures on it;
  * medians over the 11 districts (each district's figure is itself the median
    of --repeat runs).

Run: .venv/bin/python bench/render.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_MS = 300.0


def timed(fn: Callable[[], object], repeat: int, before: Callable[[], object] | None = None) -> float:
    """Median seconds of ``repeat`` calls of ``fn``, running ``before`` (untimed) ahead of each."""
    samples = []
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def row(name: str, per_district: list[float], goal: str = "") -> None:
    ms = [s * 1000 for s in per_district]
    digits = 4 if max(ms) < 1 else 1
    print(
        f"{name:<44} median {statistics.median(ms):8.{digits}f} ms   min {min(ms):8.{digits}f}   "
        f"max {max(ms):8.{digits}f}   n={len(ms):<3} {goal}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    repeat = args.repeat

    import graphviz

    from engine import build, clear_render_cache, diff_diagram, process_diagram, render, render_process
    from engine.diagram import diagram_of
    from engine.overview import Figures, overview_diagram, phase_diagram, render_overview

    result = build([ROOT / "processes", ROOT / "local_overrides"])
    assert not result.findings and len(result.districts) == 11
    central = result.central["bryt_upp"].compiled
    assert central is not None
    districts = {name: b.compiled for name, b in sorted(result.districts.items()) if b.compiled is not None}

    trivial = graphviz.Digraph()
    trivial.edges([("a", "b"), ("b", "c")])
    render(trivial)  # warm the OS caches for `dot` itself
    baseline = [timed(lambda: render(trivial), repeat) for _ in districts]

    cold, cached, build_only, dot_only, png, pdf, diff = [], [], [], [], [], [], []
    overview, overview_build, phase, phase_build, phase_figures, every_phase = [], [], [], [], [], []
    for compiled in districts.values():
        cold.append(timed(lambda c=compiled: render_process(c, central), repeat, before=clear_render_cache))
        cached.append(timed(lambda c=compiled: render_process(c, central), max(repeat, 20)))
        build_only.append(timed(lambda c=compiled: process_diagram(c, central), repeat))
        diagram = process_diagram(compiled, central)
        dot_only.append(timed(lambda g=diagram: render(g), repeat))
        png.append(timed(lambda c=compiled: render_process(c, central, format="png"), repeat, before=clear_render_cache))
        pdf.append(timed(lambda c=compiled: render_process(c, central, format="pdf"), repeat, before=clear_render_cache))
        diff.append(timed(lambda c=compiled: render(diff_diagram(c, central)), repeat))
        overview.append(timed(lambda c=compiled: render_overview(c, central), repeat, before=clear_render_cache))
        overview_build.append(timed(lambda c=compiled: overview_diagram(c, central), repeat))
        model = diagram_of(compiled)
        largest = max(model.phases.values(), key=lambda p: len(p.steps)).id
        phase.append(timed(lambda c=compiled, p=largest: render(phase_diagram(c, p, central)), repeat))
        phase_build.append(timed(lambda c=compiled, p=largest: phase_diagram(c, p, central), repeat))
        figures = Figures("Mediantid i dagar", {s: (float(i), f"Median {i} dagar") for i, s in enumerate(compiled.process.steps)})
        phase_figures.append(timed(lambda c=compiled, p=largest, f=figures: render(phase_diagram(c, p, central, f)), repeat))
        every_phase.append(timed(lambda c=compiled, m=model: [render(phase_diagram(c, p, central)) for p in m.phases], 1))

    steps = statistics.median(len(c.process.steps) for c in districts.values())
    print(f"Rendering the 11 districts' processes ({steps:.0f} steps each), repeat={repeat}, dot {graphviz.version()}")
    row("baseline: dot on a 3-node graph (svg)", baseline)
    row("district process, cold (svg)", cold, f"goal <= {GOAL_MS:.0f} ms")
    row("  of which building the diagram (Python)", build_only)
    row("  of which dot (svg)", dot_only)
    row("district process, cached (svg)", cached)
    row("district process, cold (png)", png)
    row("district process, cold (pdf)", pdf)
    row("diff view, cold (svg)", diff)
    row("overview by phase, cold (svg)", overview, f"goal <= {GOAL_MS:.0f} ms")
    row("  of which building the overview (Python)", overview_build)
    row("largest phase's view (svg)", phase, f"goal <= {GOAL_MS:.0f} ms")
    row("  of which building the phase view (Python)", phase_build)
    row("largest phase's view with figures (svg)", phase_figures)
    row("every phase's view in turn (svg, 10 phases)", every_phase)
    worst = max(cold) * 1000
    verdict = "meets" if statistics.median(cold) * 1000 <= GOAL_MS else "MISSES"
    print(f"cold svg {verdict} the {GOAL_MS:.0f} ms goal (median); slowest district {worst:.1f} ms")


if __name__ == "__main__":
    main()
