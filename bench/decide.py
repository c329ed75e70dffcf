"""Benchmark: decide() on the full Stockholm process over a realistic mix of case states.

Prints, in one run:
  * decide() with durable-rules doing the matching (the product), decisions/s and p50/p99.
    Every case state comes back --rounds times, as caseworkers ask about a case again;
    nothing is kept per case, so the first round (printed apart: the first ask of each case)
    costs what the others do.  The process version's tables (memo.py) are built before
    timing, as a running service has them.  Once on cases without a facts history (as the
    peer sees them), once on cases with one as the service builds it from a case's log (the
    opening facts, and in two cases of five a change of facts);
  * decide() with the plain-Python evaluator of the same compiled process (the floor);
  * SpiffWorkflow, the peer: the same process as BPMN (bench/bpmn_peer.py, whose
    docstring says where the comparison is not exact), replaying each case's completed
    steps; how often its open steps agree with decide()'s, and decide()'s speed-up over it;
  * the matching alone: durable-rules, plain Python;
  * decide() on one case with 1, 5 and 15 children (the most a case may have): every child
    opens its own steps, so this is where more facts cost more;
  * optionally (--threads N --per-thread M) N threads calling decide() at once through
    one durable-rules matcher, every Decision compared with the oracle's (the issue's bar
    is 8 x 100,000);
  * memory: resident set size before and after --memory decisions, over --memory-states cases.

Run: .venv/bin/python bench/decide.py [--states 300] [--rounds 5] [--peer-rounds 1]
       [--threads 8 --per-thread 100000] [--memory 1000000 --memory-states 3000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bpmn_peer import SpiffPeer  # noqa: E402
from workload import case_states  # noqa: E402

from engine import CaseState, CompiledProcess, Decision, build  # noqa: E402
from engine.case import normalize_facts  # noqa: E402
from engine.decide import decide  # noqa: E402
from engine.rules import DurableMatcher, PythonMatcher  # noqa: E402


def measure(name: str, fn: Callable[[int], object], n: int, rounds: int, split: bool = False) -> tuple[float, float]:
    """Prints and returns ``(decisions/s, p50 in µs)``; ``split`` also prints the first round apart from the others."""
    samples: list[int] = []
    t_start = time.perf_counter()
    for _ in range(rounds):
        for i in range(n):
            t0 = time.perf_counter_ns()
            fn(i)
            samples.append(time.perf_counter_ns() - t0)
    wall = time.perf_counter() - t_start
    p50, p99 = percentiles(samples)
    print(f"{name:<46} {len(samples) / wall:10.0f}/s   p50 {p50:8.1f} µs   p99 {p99:8.1f} µs   n={len(samples)}")
    if split and rounds > 1:
        for label, part in (("first ask of each case, nothing kept", samples[:n]), ("asked again", samples[n:])):
            p50_part, p99_part = percentiles(part)
            print(f"  {label:<44} {'':12}   p50 {p50_part:8.1f} µs   p99 {p99_part:8.1f} µs   n={len(part)}")
    return len(samples) / wall, p50


def percentiles(samples: list[int]) -> tuple[float, float]:
    """p50 and p99 in µs."""
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] / 1000, ordered[int(len(ordered) * 0.99)] / 1000


def threaded(
    matcher: DurableMatcher,
    compiled: CompiledProcess,
    states: list[CaseState],
    expected: list[Decision],
    threads: int,
    per_thread: int,
) -> tuple[int, int, float]:
    """``threads`` threads share ``matcher``: ``(decisions made, wrong or lost, seconds)``."""
    wrong, done = [0], [0]
    lock = threading.Lock()

    def work(seed: int) -> None:
        bad = made = 0
        for k in range(per_thread):
            i = (seed * 7919 + k) % len(states)
            try:
                bad += decide(compiled, states[i], matcher) != expected[i]
                made += 1
            except Exception:  # a lost decision counts as wrong; the run goes on
                bad += 1
        with lock:
            wrong[0] += bad
            done[0] += made

    t0 = time.perf_counter()
    workers = [threading.Thread(target=work, args=(s,)) for s in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return done[0], wrong[0], time.perf_counter() - t0


def with_children(count: int) -> CaseState:
    """A case past its safety assessment with ``count`` children, half of whom witnessed violence."""
    children = [{"age": 3 + i, "witnessed_violence": i % 2 == 0, "accompanying": True} for i in range(count)]
    done = [("actualisation", None), ("intake_registration", None), ("initial_safety_assessment", None)]
    done += [("child_protection_assessment", i) for i in range(0, count, 2)]
    return CaseState(
        facts={"age": 30, "children": children, "report_received": "2025-03-03", "needs": ["housing"]},
        opened=dt.date(2025, 3, 3),
        today=dt.date(2025, 3, 10),
        completed=[{"step": step, "child": child, "on": dt.date(2025, 3, 4)} for step, child in done],
    )


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--states", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--peer-rounds", type=int, default=1, help="SpiffWorkflow takes milliseconds a decision")
    parser.add_argument("--district", default="farsta")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--per-thread", type=int, default=100_000)
    parser.add_argument("--memory", type=int, default=0, help="decisions to run while watching memory")
    parser.add_argument("--memory-states", type=int, default=3000, help="cases those decisions cycle through")
    args = parser.parse_args()

    compiled = build([ROOT / "processes", ROOT / "local_overrides"]).districts[args.district].compiled
    assert compiled is not None
    states = case_states(compiled, args.states)
    with_history = case_states(compiled, args.states, history=True)
    steps = sum(len(s.completed) for s in states)
    entries = sum(len(s.history) for s in with_history)
    print(
        f"{args.district}: {len(compiled.process.steps)} steps, {len(states)} case states, "
        f"{steps / len(states):.1f} completed steps each; with history {entries / len(states):.1f} entries each\n"
    )

    durable, oracle = DurableMatcher(), PythonMatcher()
    facts = [normalize_facts(compiled.process.facts, s.facts) for s in states]
    n = len(states)
    decide(compiled, states[0], durable)  # the version's tables and its registered ruleset, as a service has them
    ours = measure("decide(), durable-rules matching", lambda i: decide(compiled, states[i], durable), n, args.rounds, True)
    with_history_decided = lambda i: decide(compiled, with_history[i], durable)  # noqa: E731
    measure("decide(), the same, cases with a history", with_history_decided, n, args.rounds, True)
    measure("decide(), plain-Python evaluator (floor)", lambda i: decide(compiled, states[i], oracle), n, args.rounds)
    peer = SpiffPeer(compiled)

    def peer_decides(i: int) -> set[str]:
        return peer.open_steps(states[i], facts[i])

    theirs = measure("SpiffWorkflow 3 (peer), same process as BPMN", peer_decides, n, args.peer_rounds)
    per_child = {step_id for step_id, step in compiled.process.steps.items() if step.for_each == "child"}
    differences = [peer_decides(i) ^ {x.step for x in decide(compiled, states[i]).next_steps} for i in range(n)]
    print(
        f"  decide() vs SpiffWorkflow: {ours[0] / theirs[0]:.0f}x the decisions/s, {theirs[1] / ours[1]:.0f}x lower p50\n"
        f"  open steps: the same in {sum(not d for d in differences)} of {n} cases, "
        f"{sum(bool(d) and d <= per_child for d in differences)} differ only in per-child steps (one task for all children "
        "in the peer), the rest elsewhere: see bench/bpmn_peer.py"
    )
    measure("matching alone, durable-rules", lambda i: durable.match(compiled, facts[i]), n, args.rounds)
    measure("matching alone, plain Python", lambda i: oracle.match(compiled, facts[i]), n, args.rounds)
    for count in (1, 5, 15):
        case = with_children(count)
        label = f"decide(), {count} {'child' if count == 1 else 'children'}"
        measure(label, lambda i, case=case: decide(compiled, case, durable), 1, 200)

    if args.threads:
        mixed = states + with_history
        expected = [decide(compiled, s, oracle) for s in mixed]
        print()
        done, wrong, wall = threaded(DurableMatcher(), compiled, mixed, expected, args.threads, args.per_thread)
        print(
            f"{args.threads} threads x {args.per_thread} decisions (durable-rules): {done} made, "
            f"{args.threads * args.per_thread - done} lost, {wrong} wrong or lost, {done / wall:.0f}/s"
        )

    if args.memory:
        many = case_states(compiled, args.memory_states, seed=2, history=True)
        matcher = DurableMatcher()
        before = rss_mb()
        for k in range(args.memory):
            decide(compiled, many[k % len(many)], matcher)
            if k == args.memory // 10:
                early = rss_mb()
        print(
            f"\nmax RSS: {before:.0f} MB before, {early:.0f} MB after {args.memory // 10}, "
            f"{rss_mb():.0f} MB after {args.memory} decisions over {len(many)} cases"
        )


if __name__ == "__main__":
    main()
