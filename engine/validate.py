"""Stage 4, validate: ``CompiledProcess`` -> every ``Finding``, in one pass.

Each check is a small named function; ``CHECKS`` lists them and
``validate_process`` runs them all.  A check yields findings and never stops
at the first.  Checks that compare a district with the central process
(``guaranteed_missing``, ``deadline_loosened``) run when the compiled central
process is given.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import networkx as nx

from .compile import CompiledProcess
from .errors import Finding, KeyPath, SourceMap, did_you_mean, sort_findings
from .language import CHILDREN, Domains, Expr, Otherwise, check_condition, evaluate_case, fact_spec, literal_text
from .schema import STEP_OPENED, ProcessDocument, duration_is_longer

Check = Callable[[CompiledProcess], Iterator[Finding]]


def _finding(c: CompiledProcess, check: str, message: str, path: KeyPath, **kw: Any) -> Finding:
    position = kw.pop("position", None) or c.source.at(path)
    return Finding(check, message, position, c.source.original_path(path), district=c.district, **kw)


# --- references and conditions -------------------------------------------------


def check_conditions(document: ProcessDocument, source: SourceMap, district: str | None = None) -> list[Finding]:
    """Every condition names declared facts and compares them with values of their type."""
    findings: list[Finding] = []
    for step_id, step in document.steps.items():
        per_child = step.for_each == "child"
        conditions: list[tuple[KeyPath, Any]] = [
            (("steps", step_id, "next", target, "when"), t.when) for target, t in step.transitions().items()
        ]
        conditions.append((("steps", step_id, "for_each_when"), step.for_each_when))
        for path, text in conditions:
            if text is None:
                continue
            for offset, message in check_condition(text.ast, document.facts, per_child):
                findings.append(
                    Finding("unknown_fact", message, source.text_at(path, offset), source.original_path(path), district=district)
                )
    return findings


def unknown_fact(c: CompiledProcess) -> Iterator[Finding]:
    yield from check_conditions(c.process, c.source, c.district)


def unknown_reference(c: CompiledProcess) -> Iterator[Finding]:
    p = c.process
    if p.start not in p.steps:
        yield _finding(c, "unknown_reference", f"unknown start step '{p.start}'{did_you_mean(p.start, p.steps)}", ("start",))
    for event_id, event in p.events.items():
        path: KeyPath = ("events", event_id)
        if event.fact is not None:
            spec = fact_spec(p.facts, tuple(event.fact.split(".")))
            if spec is None or spec.type != "date":
                yield _finding(c, "unknown_reference", f"'{event.fact}' is not a declared date fact", path + ("fact",))
        if event.step is not None and event.step not in p.steps:
            yield _finding(
                c, "unknown_reference", f"unknown step '{event.step}'{did_you_mean(event.step, p.steps)}", path + ("step",)
            )
    references = (
        ("phase", p.phases),
        ("role", p.roles),
        ("intervention", p.interventions),
        ("closure_reason", p.closure_reasons),
    )
    for step_id, step in p.steps.items():
        base: KeyPath = ("steps", step_id)
        for key, declared in references:
            value = getattr(step, key)
            if value is not None and value not in declared:
                yield _finding(
                    c,
                    "unknown_reference",
                    f"unknown {key.replace('_', ' ')} '{value}'{did_you_mean(value, declared)}",
                    base + (key,),
                )
        if step.deadline is not None and step.deadline.from_ not in p.events and step.deadline.from_ != STEP_OPENED:
            known = [*p.events, STEP_OPENED]
            yield _finding(
                c,
                "unknown_reference",
                f"unknown event '{step.deadline.from_}'{did_you_mean(step.deadline.from_, known)}",
                base + ("deadline", "from"),
            )
        for target in step.next:
            if target not in p.steps:
                yield _finding(
                    c, "unknown_reference", f"unknown step '{target}'{did_you_mean(target, p.steps)}", base + ("next", target)
                )
        if step.for_each == "child" and (CHILDREN not in p.facts or p.facts[CHILDREN].type != "list"):
            yield _finding(c, "unknown_reference", f"for_each: child needs a list fact '{CHILDREN}'", base + ("for_each",))


def gateway_misuse(c: CompiledProcess) -> Iterator[Finding]:
    """Shapes that make a step's meaning unclear."""
    for step_id, step in c.process.steps.items():
        base: KeyPath = ("steps", step_id)
        if step.terminal and step.next:
            yield _finding(c, "gateway_misuse", "a terminal step (with closure_reason) has no transitions", base + ("next",))
        if not step.terminal and step.role is None:
            yield _finding(c, "gateway_misuse", "a step that is not terminal needs a role", base)
        if step.for_each_when is not None and step.for_each is None:
            yield _finding(c, "gateway_misuse", "for_each_when needs for_each", base + ("for_each_when",))
        transitions = step.transitions()
        otherwise = [t for t, tr in transitions.items() if tr.when is not None and isinstance(tr.when.ast, Otherwise)]  # type: ignore[attr-defined]
        if step.gateway == "parallel":
            for target, tr in transitions.items():
                if tr.when is not None:
                    yield _finding(
                        c,
                        "gateway_misuse",
                        "a parallel gateway takes every transition; use inclusive for conditional ones",
                        base + ("next", target, "when"),
                    )
        elif len(otherwise) > 1:
            yield _finding(c, "gateway_misuse", "only one transition can be 'otherwise'", base + ("next", otherwise[1], "when"))
        elif otherwise and len(transitions) == 1:
            yield _finding(
                c,
                "gateway_misuse",
                "'otherwise' needs a sibling transition with a condition",
                base + ("next", otherwise[0], "when"),
            )


# --- graph shape -------------------------------------------------------------------


def _terminals(c: CompiledProcess) -> set[str]:
    return {s for s, step in c.process.steps.items() if step.terminal}


def unreachable_step(c: CompiledProcess) -> Iterator[Finding]:
    start = c.process.start
    if start not in c.graph:
        return
    reached = nx.descendants(c.graph, start) | {start}
    redirected = {old: (s, new) for s, old, new in c.process.redirects}
    for step_id in c.process.steps:
        if step_id in reached:
            continue
        message = f"step '{step_id}' cannot be reached from the start step '{start}'"
        path: KeyPath = ("steps", step_id)
        if step_id in redirected and c.district:
            source, new = redirected[step_id]
            yield _finding(
                c,
                "unreachable_step",
                message + f" since the district redirected '{source}' to '{new}'",
                ("steps", source, "next", new),
                related=c.source.at(path),
            )
        elif c.district and step_id not in c.process.local_steps:
            yield _finding(
                c, "unreachable_step", message + f" in district '{c.district}'", ("district",), related=c.source.at(path)
            )
        else:
            yield _finding(c, "unreachable_step", message, path)


def dead_end(c: CompiledProcess) -> Iterator[Finding]:
    for step_id, step in c.process.steps.items():
        if not step.terminal and c.graph.out_degree(step_id) == 0 and all(t not in c.process.steps for t in step.next):
            yield _finding(
                c, "dead_end", f"step '{step_id}' is not terminal (no closure_reason) but has no way on", ("steps", step_id)
            )


def trap_cycle(c: CompiledProcess) -> Iterator[Finding]:
    terminals = _terminals(c)
    can_finish = set(terminals)
    for t in terminals:
        can_finish |= nx.ancestors(c.graph, t)
    stuck = c.graph.subgraph(set(c.graph) - can_finish)
    for component in nx.strongly_connected_components(stuck):
        first = next(s for s in c.process.steps if s in component)
        if len(component) > 1 or stuck.has_edge(first, first):
            members = ", ".join(s for s in c.process.steps if s in component)
            yield _finding(c, "trap_cycle", f"steps {members} form a cycle with no way out to a closing step", ("steps", first))


# --- district against central ----------------------------------------------------------


def unbound_role(c: CompiledProcess) -> Iterator[Finding]:
    if c.process.district is None:
        return
    for role in c.process.roles:
        if role not in c.process.bindings:
            yield _finding(c, "unbound_role", f"role '{role}' is not bound to a unit of the district", ("bindings",))


def redirect_skips_guaranteed(c: CompiledProcess) -> Iterator[Finding]:
    for source_id, old, new in c.process.redirects:
        step = c.process.steps.get(old)
        if step is not None and step.guaranteed and new in c.graph and not nx.has_path(c.graph, new, old):
            yield _finding(
                c,
                "redirect_skips_guaranteed",
                f"the redirect from '{source_id}' to '{new}' skips the guaranteed step '{old}': '{new}' must lead on to it",
                ("steps", source_id, "next", new),
                related=c.source.at(("steps", old)),
            )


def compare_with_central(c: CompiledProcess, central: CompiledProcess) -> Iterator[Finding]:
    """``guaranteed_missing`` and ``deadline_loosened``: what the district promised stays promised."""
    for step_id, base in central.process.steps.items():
        here = c.process.steps.get(step_id)
        related = central.source.at(("steps", step_id))
        if base.guaranteed and (here is None or not here.guaranteed or here.intervention != base.intervention):
            what = "is missing" if here is None else "lost its guarantee or intervention"
            yield _finding(c, "guaranteed_missing", f"guaranteed step '{step_id}' {what}", ("district",), related=related)
        if here is None or base.deadline is None:
            continue
        new = here.deadline
        if new is None or new.from_ != base.deadline.from_ or duration_is_longer(new.within, base.deadline.within):
            shown = "none" if new is None else f"{new.within} after {new.from_}"
            yield _finding(
                c,
                "deadline_loosened",
                f"deadline of '{step_id}' is {shown}, looser than the central {base.deadline.within} after {base.deadline.from_}",
                ("steps", step_id, "deadline"),
                related=central.source.at(("steps", step_id, "deadline")),
            )


# --- branch conditions ----------------------------------------------------------------------

MAX_CASES = 1 << 16


def branch_conditions(c: CompiledProcess) -> Iterator[Finding]:
    """``branch_overlap``: an exclusive gateway where two conditions can hold at once;
    ``branch_gap``: a gateway where, for some client, no condition holds.

    Decided by enumerating every combination of the facts the conditions read,
    where each fact's domain is finite or can be cut into finitely many cases:
    booleans, enum values (and unknown), the set values tested, and for numbers
    the ends of their declared range and the values next to every constant they
    are compared with, inside that range (a value the facts can never hold is no
    client's case).  A quantifier such as ``any(children, …)`` counts as one
    independent fact; a count lies between 0 and the list's ``max_items``.
    Gateways that read dates, or need more than ``MAX_CASES`` combinations, are
    not decided.  The cases come from ``language.domains``, each fact's from its
    type (``FactType.branch_values`` and ``refine``).
    """
    for step_id, step in c.process.steps.items():
        if step.gateway == "parallel":
            continue
        conditions = [(t, tr.when.ast if tr.when is not None else None) for t, tr in step.transitions().items()]  # type: ignore[attr-defined]
        if not conditions or (
            any(cond is None or isinstance(cond, Otherwise) for _, cond in conditions) and step.gateway == "inclusive"
        ):
            continue
        unconditional = [t for t, cond in conditions if cond is None]
        if step.gateway == "exclusive" and unconditional and len(conditions) > 1:
            other = next(t for t, _ in conditions if t != unconditional[0])
            path = _blame(c, ("steps", step_id, "next"), unconditional[0], other)
            yield _finding(
                c,
                "branch_overlap",
                f"exclusive gateway: the transition to '{unconditional[0]}' always holds, "
                f"so it can hold together with the one to '{other}'",
                path,
            )
            continue
        if len(conditions) == 1 and conditions[0][1] is None:
            continue
        yield from _decide_branches(c, step_id, step.gateway, conditions)


def _decide_branches(
    c: CompiledProcess, step_id: str, gateway: str, conditions: list[tuple[str, Expr | None]]
) -> Iterator[Finding]:
    exprs = [(t, e) for t, e in conditions if e is not None and not isinstance(e, Otherwise)]
    has_otherwise = len(exprs) < len(conditions)
    collected = Domains(c.process.facts)
    if not all(expr.accept(collected) for _, expr in exprs):
        return
    domains = collected.domains
    keys = sorted(domains)
    size = 1
    for k in keys:
        size *= len(domains[k])
    if size > MAX_CASES:
        return
    overlap_reported = gap_reported = False
    for combo in itertools.product(*(domains[k] for k in keys)):
        env = dict(zip(keys, combo, strict=True))
        holding = [t for t, e in exprs if evaluate_case(e, env)]
        if gateway == "exclusive" and len(holding) > 1 and not overlap_reported:
            overlap_reported = True
            yield _finding(
                c,
                "branch_overlap",
                f"exclusive gateway: the conditions to '{holding[0]}' and '{holding[1]}' can both hold (e.g. {_example(env)})",
                _blame(c, ("steps", step_id, "next"), holding[1], holding[0]) + ("when",),
            )
        if not holding and not has_otherwise and not gap_reported:
            gap_reported = True
            yield _finding(
                c,
                "branch_gap",
                f"no transition's condition holds for some clients (e.g. {_example(env)}); add an 'otherwise' transition",
                ("steps", step_id, "next"),
            )
        if overlap_reported and (gap_reported or has_otherwise):
            return


def _blame(c: CompiledProcess, base: KeyPath, first: str, second: str) -> KeyPath:
    """Of two transitions in conflict, the one a district added, if any: that is where the fix belongs."""
    central_file = c.source.file
    for target in (first, second):
        if c.source.at(base + (target,)).file != central_file:
            return base + (target,)
    return base + (first,)


def _example(env: Mapping[str, Any]) -> str:
    def show(v: Any) -> str:
        if isinstance(v, frozenset):
            return "{" + ", ".join(sorted(v)) + "}"
        return literal_text(v)

    return ", ".join(f"{k}={show(v)}" for k, v in sorted(env.items()))


# --- entry point -------------------------------------------------------------------------------

CHECKS: dict[str, Check] = {
    "unknown_reference": unknown_reference,
    "unknown_fact": unknown_fact,
    "gateway_misuse": gateway_misuse,
    "unreachable_step": unreachable_step,
    "dead_end": dead_end,
    "trap_cycle": trap_cycle,
    "unbound_role": unbound_role,
    "redirect_skips_guaranteed": redirect_skips_guaranteed,
    "branch_conditions": branch_conditions,
}


def validate_process(compiled: CompiledProcess, central: CompiledProcess | None = None) -> list[Finding]:
    """Every finding of every check; a clean process gives an empty list."""
    findings: list[Finding] = []
    for check in CHECKS.values():
        findings.extend(check(compiled))
    if central is not None and compiled.district is not None:
        findings.extend(compare_with_central(compiled, central))
    return sort_findings(findings)


__all__ = ["CHECKS", "check_conditions", "validate_process"]
