"""Benchmark: decide() on the full Stockholm process over a realistic mix of case states.

Prints, in one run:
  * decide() with durable-rules doing the matching (the product), decisions/s and p50/p99;
  * decide() with the plain-Python evaluator of the same compiled process (the floor);
  * the matching alone, both ways;
  * optionally (--threads N --per-thread M) N threads deciding at once, every result
    compared with the oracle's (the issue's bar is 8 x 100,000);
  * memory: resident set size before and after --memory decisions.

Not yet here: SpiffWorkflow as the peer (see the issue; a later change adds it).

Run: .venv/bin/python bench/decide.py [--states 300] [--rounds 5] [--threads 8 --per-thread 100000] [--memory 200000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from workload import case_states  # noqa: E402

from engine import build  # noqa: E402
from engine.case import normalize_facts  # noqa: E402
from engine.decide import decide  # noqa: E402
from engine.rules import DurableMatcher, PythonMatcher  # noqa: E402


def measure(name: str, fn: Callable[[int], object], n: int, rounds: int) -> None:
    samples = []
    t_start = time.perf_counter()
    for _ in range(rounds):
        for i in range(n):
            t0 = time.perf_counter_ns()
            fn(i)
            samples.append(time.perf_counter_ns() - t0)
    wall = time.perf_counter() - t_start
    samples.sort()
    p50, p99 = samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000
    print(f"{name:<46} {len(samples) / wall:10.0f}/s   p50 {p50:8.1f} µs   p99 {p99:8.1f} µs   n={len(samples)}")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--states", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--district", default="farsta")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--per-thread", type=int, default=100_000)
    parser.add_argument("--memory", type=int, default=0, help="decisions to run while watching memory")
    args = parser.parse_args()

    compiled = build([ROOT / "processes", ROOT / "local_overrides"]).districts[args.district].compiled
    assert compiled is not None
    states = case_states(compiled, args.states)
    steps = sum(len(s.completed) for s in states)
    print(
        f"{args.district}: {len(compiled.process.steps)} steps, {len(states)} case states, "
        f"{steps / len(states):.1f} completed steps each\n"
    )

    durable, oracle = DurableMatcher(), PythonMatcher()
    facts = [normalize_facts(compiled.process.facts, s.facts) for s in states]
    n = len(states)
    measure("decide(), durable-rules matching", lambda i: decide(compiled, states[i], durable), n, args.rounds)
    measure("decide(), plain-Python evaluator (floor)", lambda i: decide(compiled, states[i], oracle), n, args.rounds)
    measure("matching alone, durable-rules", lambda i: durable.match(compiled, facts[i]), n, args.rounds)
    measure("matching alone, plain Python", lambda i: oracle.match(compiled, facts[i]), n, args.rounds)

    if args.threads:
        expected = [oracle.match(compiled, f) for f in facts]
        wrong = [0]
        done = [0]
        lock = threading.Lock()

        def work(seed: int) -> None:
            bad = 0
            for k in range(args.per_thread):
                i = (seed * 7919 + k) % n
                if durable.match(compiled, facts[i]) != expected[i]:
                    bad += 1
            with lock:
                wrong[0] += bad
                done[0] += args.per_thread

        t0 = time.perf_counter()
        threads = [threading.Thread(target=work, args=(s,)) for s in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        print(
            f"\n{args.threads} threads x {args.per_thread} matchings: {done[0]} done, {wrong[0]} wrong or lost, "
            f"{done[0] / wall:.0f}/s"
        )

    if args.memory:
        before = rss_mb()
        for k in range(args.memory):
            decide(compiled, states[k % n], durable)
            if k == args.memory // 10:
                early = rss_mb()
        print(
            f"\nmax RSS: {before:.0f} MB before, {early:.0f} MB after {args.memory // 10}, "
            f"{rss_mb():.0f} MB after {args.memory} decisions"
        )


if __name__ == "__main__":
    main()
