"""Stage 5: what is open now, who does it, by when and why."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import engine
from engine import CompiledProcess, compile_process, load_process, merge_override
from engine.case import CaseState
from engine.decide import Decision, add_duration, decide
from engine.errors import DecisionError, FactsError
from engine.rules import DurableMatcher, PythonMatcher
from tests.conftest import OVERRIDE, ROOT, wrong_in_threads

FLOW = """\
process: {id: mini, label: Mini, owner: Testerna}
start: intake
facts:
  age: {type: integer, label: Ålder, min: 0, max: 120}
  risk_level: {type: enum, label: Risknivå, values: [low, high]}
  needs: {type: set, label: Behov, values: [housing, financial]}
  placement_start: {type: date, label: Placeringsstart}
  ended: {type: boolean, label: Avslutad}
  children:
    type: list
    label: Barn
    max_items: 15
    fields:
      age: {type: integer, label: Ålder, min: 0, max: 17}
      accompanying: {type: boolean, label: Medföljande}
events:
  case_opened: {label: Aktualiserat}
  placement_started: {label: Placering, fact: placement_start}
phases:
  main: {label: Huvudfas}
roles:
  intake: {label: Mottagning}
  rvt: {label: RVT}
interventions:
  housing: {label: Boende, programme: true}
  advice: {label: Rådgivning, programme: true}
closure_reasons:
  done: Klart
steps:
  intake:
    label: Mottagning
    phase: main
    role: intake
    deadline: {within: 1m, from: case_opened}
    gateway: inclusive
    next:
      risk: {}
      child_check: {when: count(children) > 0}
      housing: {when: "'housing' in needs"}
  risk:
    label: Risk
    phase: main
    role: rvt
    next:
      placement: {when: "risk_level == 'high'"}
      advice: {when: otherwise}
  placement:
    label: Placering
    phase: main
    role: rvt
    deadline: {within: 7d, from: placement_started}
    next:
      placement: {when: not ended}
      advice: {when: otherwise}
  child_check:
    label: Barnets skydd
    phase: main
    role: rvt
    for_each: child
    for_each_when: child.accompanying
    next:
      advice: {}
  housing:
    label: Boendestöd
    phase: main
    role: rvt
    intervention: housing
    guaranteed: true
    next:
      advice: {}
  advice:
    label: Rådgivning
    phase: main
    role: rvt
    intervention: advice
    guaranteed: true
    join: all
    next:
      closed: {}
  closed:
    label: Avslutat
    phase: main
    closure_reason: done
"""

Decide = Callable[..., Any]
OPENED = dt.date(2025, 1, 31)


@pytest.fixture
def flow(central: Callable[..., CompiledProcess]) -> CompiledProcess:
    return central(FLOW)


def state(facts: dict[str, Any] | None = None, done: list[Any] | None = None, today: dt.date = OPENED) -> CaseState:
    completed = [
        {"step": d, "on": OPENED} if isinstance(d, str) else {"step": d[0], "on": d[1], "child": d[2] if len(d) > 2 else None}
        for d in done or []
    ]
    return CaseState(facts=facts or {}, opened=OPENED, today=today, completed=completed)


def open_steps(compiled: CompiledProcess, s: CaseState) -> list[str]:
    decision = decide(compiled, s)
    assert decision == decide(compiled, s, PythonMatcher())
    return [f"{n.step}" if n.child is None else f"{n.step}[{n.child}]" for n in decision.next_steps]


def test_a_new_case_opens_at_the_start_step_with_its_deadline(flow: CompiledProcess) -> None:
    (step,) = decide(flow, state()).next_steps
    assert (step.step, step.opened_on, step.due, step.overdue) == ("intake", OPENED, dt.date(2025, 2, 28), False)
    assert step.reasons[0].rule == "start"


def test_month_deadlines_end_on_the_last_day_of_a_shorter_month() -> None:
    assert add_duration(dt.date(2024, 1, 31), "1m") == dt.date(2024, 2, 29)
    assert add_duration(dt.date(2025, 11, 30), "4m") == dt.date(2026, 3, 30)
    assert add_duration(dt.date(2025, 3, 1), "2w") == dt.date(2025, 3, 15)


def test_overdue_once_today_is_past_the_due_date(flow: CompiledProcess) -> None:
    (step,) = decide(flow, state(today=dt.date(2025, 3, 1))).next_steps
    assert step.overdue


def test_inclusive_gateway_opens_every_branch_that_holds(flow: CompiledProcess) -> None:
    facts = {"needs": ["housing"], "children": [{"age": 4, "accompanying": True}, {"age": 9}]}
    assert open_steps(flow, state(facts, ["intake"])) == ["risk", "child_check[0]", "housing"]


def test_exclusive_gateway_takes_the_first_that_holds_else_otherwise(flow: CompiledProcess) -> None:
    assert "placement" in open_steps(flow, state({"risk_level": "high"}, ["intake", "risk"]))
    assert open_steps(flow, state({"risk_level": "low"}, ["intake", "risk"])) == ["advice"]


def test_a_join_waits_while_another_branch_can_still_reach_it(flow: CompiledProcess) -> None:
    facts = {"needs": ["housing"]}
    decision = decide(flow, state(facts, ["intake", "housing"]))
    assert [s.step for s in decision.next_steps] == ["risk"]
    (waiting,) = decision.waiting
    assert (waiting.step, waiting.waiting_for) == ("advice", ("risk",))
    assert open_steps(flow, state({**facts, "risk_level": "low"}, ["intake", "housing", "risk"])) == ["advice"]


def test_a_loop_reopens_its_step_until_the_exit_holds(flow: CompiledProcess) -> None:
    facts = {"risk_level": "high", "placement_start": "2025-02-03"}
    done = ["intake", "risk", ("placement", dt.date(2025, 2, 5))]
    (step,) = decide(flow, state(facts, done, today=dt.date(2025, 2, 6))).next_steps
    assert (step.step, step.opened_on, step.due) == ("placement", dt.date(2025, 2, 5), dt.date(2025, 2, 10))
    assert open_steps(flow, state({**facts, "ended": True}, [*done, ("placement", dt.date(2025, 3, 5))])) == ["advice"]


def test_due_date_is_unknown_while_its_event_has_no_date(flow: CompiledProcess) -> None:
    (step,) = decide(flow, state({"risk_level": "high"}, ["intake", "risk"])).next_steps
    assert (step.step, step.due, step.overdue) == ("placement", None, False)


def test_per_child_steps_are_done_per_child(flow: CompiledProcess) -> None:
    facts = {"children": [{"age": 4, "accompanying": True}, {"age": 9, "accompanying": True}], "risk_level": "low"}
    done = ["intake", "risk", ("child_check", OPENED, 1)]
    decision = decide(flow, state(facts, done))
    assert [(s.step, s.child) for s in decision.next_steps] == [("child_check", 0)]
    assert [(s.step, s.waiting_for) for s in decision.waiting] == [("advice", ("child_check",))]


def test_a_completed_closing_step_closes_the_case(flow: CompiledProcess) -> None:
    decision = decide(flow, state({"risk_level": "low"}, ["intake", "risk", "advice", "closed"]))
    assert (decision.closed, decision.closure_reason, decision.closure_label, decision.next_steps) == (True, "done", "Klart", [])


def test_guaranteed_interventions_the_client_qualifies_for_are_listed_until_offered(flow: CompiledProcess) -> None:
    decision = decide(flow, state({"needs": ["housing"]}))
    assert [g.step for g in decision.pending_guarantees] == ["housing", "advice"]
    assert decision.pending_guarantees[0].reasons[0].condition == "'housing' in needs"
    assert [g.step for g in decide(flow, state({"needs": ["housing"]}, ["intake"])).pending_guarantees] == ["advice"]


def test_a_guarantee_behind_a_condition_the_client_does_not_meet_is_not_listed(flow: CompiledProcess) -> None:
    assert [g.step for g in decide(flow, state({"needs": ["financial"]})).pending_guarantees] == ["advice"]


def test_units_come_from_the_district(district: Callable[..., CompiledProcess]) -> None:
    compiled = district(base=OVERRIDE.replace("mini", "mini"), central=FLOW)
    (step,) = decide(compiled, state()).next_steps
    assert step.unit is not None and (step.unit.id, step.unit.label) == ("mottagningen", "Mottagningen")


def test_reasons_point_at_the_district_file_for_local_transitions(district: Callable[..., CompiledProcess]) -> None:
    extra = (
        "add_steps:\n  police:\n    label: Polis\n    phase: main\n    role: rvt\n    next: {advice: }\n"
        "add_transitions:\n  intake:\n    police: {when: \"risk_level == 'high'\"}\n"
    )
    compiled = district(extra, central=FLOW)
    steps = decide(compiled, state({"risk_level": "high"}, ["intake"])).next_steps
    police = next(s for s in steps if s.step == "police")
    assert police.reasons[0].origin == "district" and "testby.yaml" in police.reasons[0].source


def refused(compiled: CompiledProcess, s: CaseState, error: type[FactsError] = FactsError) -> dict[str, str]:
    """The problems decide() names, by path (its message is made of them)."""
    with pytest.raises(error) as info:
        decide(compiled, s)
    return info.value.problems


def test_unknown_steps_and_missing_child_indexes_are_refused(flow: CompiledProcess) -> None:
    assert refused(flow, state(done=["intak"]), DecisionError) == {
        "completed[0].step": "not a step of this process; did you mean 'intake'?"
    }
    with pytest.raises(DecisionError, match="done per child"):
        decide(flow, state({"children": [{"age": 3}]}, ["intake", "child_check"]))


def test_a_completion_names_no_step_or_child_that_was_sent(flow: CompiledProcess) -> None:
    # A step id or a child index is what a caller typed: the messages name the process's own.
    done = ["x19121212_1234", ("child_check", OPENED, 7), ("intake", OPENED, 0)]
    assert refused(flow, state({"children": [{"age": 3}]}, done), DecisionError) == {
        "completed[0].step": "not a step of this process",
        "completed[1].child": "no such child: facts.children has 1 items",
        "completed[2].child": "this step is done once for the case, not per child: leave out child",
    }


def test_facts_outside_the_vocabulary_are_refused_at_the_object_holding_them(flow: CompiledProcess) -> None:
    assert refused(flow, state({"risk_level": "hgh", "agee": 3})) == {
        "facts": "unknown fact; the facts are age, risk_level, needs, placement_start, ended, children; did you mean 'age'?",
        "facts.risk_level": "expected one of low, high; did you mean 'high'?",
    }


def test_a_submitted_key_or_value_is_never_repeated(flow: CompiledProcess) -> None:
    sent = "191212121212"  # a personal identity number, typed where an id belongs
    raw = {
        sent: 1,
        "risk_level": sent,
        "needs": ["housing", sent],
        "children": [{"age": 3, sent: True}],
        "placement_start": sent,
    }
    assert refused(flow, state(raw)) == {
        "facts": "unknown fact; the facts are age, risk_level, needs, placement_start, ended, children",
        "facts.risk_level": "expected one of low, high",
        "facts.needs": "item 2 is not one of housing, financial",
        "facts.placement_start": "expected a date, YYYY-MM-DD",
        "facts.children[0]": "unknown field; the fields are age, accompanying",
    }


def test_numbers_outside_their_declared_range_are_refused(flow: CompiledProcess) -> None:
    assert refused(flow, state({"age": 121, "children": [{"age": 18}, {"age": -1}, {"age": 17}]})) == {
        "facts.age": "expected a whole number from 0 to 120",
        "facts.children[0].age": "expected a whole number from 0 to 17",
        "facts.children[1].age": "expected a whole number from 0 to 17",
    }
    decide(flow, state({"age": 120, "children": [{"age": 0}, {"age": 17}]}))


def test_a_list_longer_than_declared_is_refused_without_reading_it(flow: CompiledProcess) -> None:
    children = [{"age": 3, "accompanying": True}] * 15
    assert len(decide(flow, state({"children": children}, ["intake"])).next_steps) == 1 + 15
    assert refused(flow, state({"children": [*children, {"agee": 3}, "not a child"]})) == {
        "facts.children": "expected at most 15 children"
    }


LOOP = """\
process: {id: loop, label: Slinga, owner: Testerna}
start: a
facts:
  again: {type: boolean, label: Igen}
events: {}
phases: {main: {label: Huvudfas}}
roles: {r: {label: Roll}}
interventions: {}
closure_reasons: {done: Klart}
steps:
  a: {label: A, phase: main, role: r, gateway: parallel, next: {b: {}, c: {}}}
  b: {label: B, phase: main, role: r, next: {j1: {}}}
  c: {label: C, phase: main, role: r, next: {j2: {}}}
  j1: {label: J1, phase: main, role: r, join: all, next: {j2: {}}}
  j2: {label: J2, phase: main, role: r, join: all, next: {b: {when: again}, end: {when: otherwise}}}
  end: {label: Slut, phase: main, closure_reason: done}
"""


def test_a_join_does_not_wait_for_a_branch_that_meets_it_only_through_another_join(
    central: Callable[..., CompiledProcess],
) -> None:
    loop = central(LOOP)
    decision = decide(loop, state(done=["a", "b"]))
    assert [s.step for s in decision.next_steps] == ["c", "j1"]
    decision = decide(loop, state(done=["a", "b", "j1"]))
    assert [(s.step, s.waiting_for) for s in decision.waiting] == [("j2", ("c",))]


def test_facts_learnt_later_do_not_reroute_a_step_already_done(flow: CompiledProcess) -> None:
    day2 = OPENED + dt.timedelta(days=1)
    history = [{"on": OPENED, "facts": {"risk_level": "low"}}, {"on": day2, "facts": {"risk_level": "high"}}]
    done = [{"step": "intake", "on": OPENED}, {"step": "risk", "on": OPENED}]
    s = CaseState(facts={"risk_level": "high"}, history=history, opened=OPENED, today=day2, completed=done)
    assert [n.step for n in decide(flow, s).next_steps] == ["advice"]
    without_history = CaseState(facts={"risk_level": "high"}, opened=OPENED, today=day2, completed=done)
    assert [n.step for n in decide(flow, without_history).next_steps] == ["placement"]


def test_several_events_on_one_day_use_the_facts_they_were_recorded_with(flow: CompiledProcess) -> None:
    history = [{"on": OPENED, "facts": {"risk_level": "low"}}, {"on": OPENED, "facts": {"risk_level": "high"}}]
    done = [{"step": "intake", "on": OPENED, "facts_from": 0}, {"step": "risk", "on": OPENED, "facts_from": 0}]
    s = CaseState(facts={"risk_level": "high"}, history=history, opened=OPENED, today=OPENED, completed=done)
    assert [n.step for n in decide(flow, s).next_steps] == ["advice"]


def test_decisions_are_built_as_validation_would_build_them(flow: CompiledProcess) -> None:
    """Some parts are built once per process version (memo.py) and shared; they must not differ from validated ones."""
    facts = {"needs": ["housing"], "risk_level": "high", "children": [{"age": 4, "accompanying": True}]}
    decision = decide(flow, state(facts, ["intake"]))
    assert decision.next_steps and decision.pending_guarantees
    models = [decision, *decision.next_steps, *decision.pending_guarantees]
    models += [m.unit for m in decision.next_steps if m.unit] + [m.deadline for m in decision.next_steps if m.deadline]
    for model in models:
        validated = type(model)(**dict(model))
        assert model == validated and model.model_dump_json() == validated.model_dump_json()
        assert model.model_fields_set == validated.model_fields_set == set(type(model).model_fields)
        assert repr(model) == repr(validated)
    assert Decision.model_validate_json(decision.model_dump_json()) == decision


def test_asking_again_gives_an_equal_decision_that_no_caller_can_change_for_another(flow: CompiledProcess) -> None:
    """decide() shares what is the same for every case of a version; the Decision and its lists
    are the caller's own, what they hold is frozen."""
    import pydantic

    facts = {"needs": ["housing"], "risk_level": "high", "placement_start": "2025-02-03"}
    s = state(facts, ["intake", "risk"])
    first = decide(flow, s)
    first.next_steps.clear()
    first.pending_guarantees.pop()
    first.closed = True
    again = decide(flow, s)
    assert again == decide(flow, s, PythonMatcher()) != first
    assert again.next_steps and again.pending_guarantees and not again.closed
    shared = [again.next_steps[0], again.pending_guarantees[0], again.next_steps[0].reasons[0], again.next_steps[0].deadline]
    for model in shared:
        with pytest.raises(pydantic.ValidationError):
            model.step = "x"  # type: ignore[union-attr]
    assert isinstance(again.next_steps[0].reasons, tuple) and isinstance(again.next_steps[0].waiting_for, tuple)
    later = decide(flow, state(facts, ["intake", "risk"], today=dt.date(2025, 6, 1)))
    assert [n.overdue for n in later.next_steps] == [True, False] != [n.overdue for n in again.next_steps]  # the day is not kept
    assert [n.overdue for n in decide(flow, s).next_steps] == [n.overdue for n in again.next_steps]
    moved = decide(flow, state({**facts, "placement_start": "2025-05-30"}, ["intake", "risk"], today=dt.date(2025, 6, 1)))
    assert moved.next_steps[0].due == dt.date(2025, 6, 6)  # a date fact the conditions do not read still moves the due date


class CountingMatcher(PythonMatcher):
    """The oracle, counting what it is asked."""

    def __init__(self) -> None:
        self.asked = 0

    def match(self, compiled: CompiledProcess, facts: Any) -> set[tuple[str, int | None]]:
        self.asked += 1
        return super().match(compiled, facts)


def test_each_distinct_set_of_facts_is_matched_once_per_decision(flow: CompiledProcess) -> None:
    facts = {"needs": ["housing"], "risk_level": "high"}
    counting = CountingMatcher()
    first = decide(flow, state(facts, ["intake"]), counting)
    assert counting.asked == 1
    assert decide(flow, state(facts, ["intake"]), counting) == first and counting.asked == 2  # nothing kept between calls
    same = [{"on": OPENED, "facts": facts}, {"on": OPENED, "facts": dict(facts)}]
    decide(flow, CaseState.model_validate({**state(facts, ["intake"]).model_dump(), "history": same}), counting)
    assert counting.asked == 3  # the history repeats the current facts
    other = [{"on": OPENED, "facts": {}}, *same]
    decide(flow, CaseState.model_validate({**state(facts, ["intake"]).model_dump(), "history": other}), counting)
    assert counting.asked == 3 + 2


def test_facts_equal_in_python_but_not_of_the_same_type_are_not_taken_for_each_other(flow: CompiledProcess) -> None:
    counting = CountingMatcher()
    decide(flow, state({"ended": True, "age": 40}, ["intake"]), counting)
    with pytest.raises(FactsError) as error:  # True == 1 and 40 == 40.0, but these facts are wrong
        decide(flow, state({"ended": 1, "age": 40}, ["intake"]), counting)
    assert "facts.ended" in error.value.problems
    with pytest.raises(FactsError):
        decide(flow, state({"ended": True, "age": 40.0}, ["intake"]), counting)


def test_facts_given_as_any_mapping_are_decided_as_a_dict_would_be(flow: CompiledProcess) -> None:
    import types

    child = types.MappingProxyType({"age": 4, "accompanying": True})
    expected = decide(flow, state({"children": [{"age": 4, "accompanying": True}]}, ["intake"]), PythonMatcher())
    assert decide(flow, state({"children": [child]}, ["intake"])) == expected


def test_many_threads_asking_at_once_get_the_oracles_decisions(flow: CompiledProcess) -> None:
    """8 threads share one matcher and one process version's tables; days vary, so steps are
    overdue in some decisions and not in others.  The full bar, 8 x 100,000, is bench/decide.py's."""
    matcher = DurableMatcher()
    cases = [
        state({"needs": ["housing"], "risk_level": "high", "placement_start": "2025-02-03"}, ["intake", "risk"]),
        state({"children": [{"age": 4, "accompanying": True}, {"age": 9, "accompanying": True}]}, ["intake"]),
        state({"risk_level": "low"}, ["intake", "risk", "advice"]),
        state({}, []),
    ]
    days = [OPENED, OPENED + dt.timedelta(days=40), OPENED + dt.timedelta(days=400)]
    asked = [s.model_copy(update={"today": day}) for s in cases for day in days]
    expected = [decide(flow, s, PythonMatcher()) for s in asked]
    assert wrong_in_threads(lambda i: decide(flow, asked[i], matcher), expected, runs=1500) == []


def test_any_object_with_match_serves_as_a_matcher(flow: CompiledProcess) -> None:
    from dataclasses import dataclass

    @dataclass  # neither hashable nor a PythonMatcher
    class Plain:
        asked: int = 0

        def match(self, compiled: CompiledProcess, facts: Any) -> set[tuple[str, int | None]]:
            self.asked += 1
            return PythonMatcher().match(compiled, facts)

    matcher = Plain()
    first = decide(flow, state({"needs": ["housing"]}, ["intake"]), matcher)
    assert first == decide(flow, state({"needs": ["housing"]}, ["intake"]), PythonMatcher()) and matcher.asked == 1


# --- cost in the number of children ------------------------------------------------------------


class _Work:
    """What a decision does, counted rather than timed: lines of engine code run, and the
    bytes handed to durable-rules and read back from it (its cost, and JSON's, grows with
    them).  Both are the same on every run, so a test on them cannot flake."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import durable_rules_engine

        self.lines = self.bytes = 0
        self.engine = str(Path(engine.__file__).parent)
        originals = {name: getattr(durable_rules_engine, name) for name in _DURABLE_CALLS}

        def counted(name: str) -> Callable[..., Any]:
            def call(*args: Any) -> Any:
                self.bytes += sum(len(a) for a in args if isinstance(a, str))
                result = originals[name](*args)
                for part in result if isinstance(result, tuple) else (result,):
                    self.bytes += len(part) if isinstance(part, str) else 0
                return result

            return call

        for name in _DURABLE_CALLS:
            monkeypatch.setattr(durable_rules_engine, name, counted(name))

    def trace(self, frame: Any, event: str, arg: Any) -> Any:
        if not frame.f_code.co_filename.startswith(self.engine):
            return None
        if event == "line":
            self.lines += 1
        return self.trace

    def of(self, fn: Callable[[], object]) -> tuple[int, int]:
        self.lines = self.bytes = 0
        sys.settrace(self.trace)
        try:
            fn()
        finally:
            sys.settrace(None)
        return self.lines, self.bytes


_DURABLE_CALLS = ("assert_facts", "start_action_for_state", "complete_and_start_action")


def test_a_decision_costs_work_in_proportion_to_the_children(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real process, its children allowed past 15 (the list's bound is checked elsewhere):
    # every child opens its own steps, half of them a deadline counting from a step's completion.
    path = ROOT / "processes" / "bryt_upp.yaml"
    text = path.read_text(encoding="utf-8").replace("max_items: 15", "max_items: 100")
    compiled = compile_process(merge_override(load_process(path, text)))

    def case(n: int) -> CaseState:
        children = [{"age": i % 18, "witnessed_violence": i % 2 == 0, "accompanying": True} for i in range(n)]
        done = [("actualisation", None), ("intake_registration", None), ("initial_safety_assessment", None)]
        done += [(step, i) for step in ("child_protection_assessment", "child_investigation_start") for i in range(0, n, 2)]
        return CaseState(
            facts={"age": 30, "children": children, "report_received": "2025-01-31", "needs": ["housing"]},
            opened=OPENED,
            today=OPENED,
            completed=[{"step": step, "child": child, "on": OPENED} for step, child in done],
        )

    matcher = DurableMatcher()
    decide(compiled, case(2), matcher)  # the ruleset and the tables are built once, not counted
    work = _Work(monkeypatch)
    (l20, b20), (l40, b40), (l80, b80) = (work.of(lambda n=n: decide(compiled, case(n), matcher)) for n in (20, 40, 80))
    # Linear: twice the children add twice the work (a square would add four times as much).
    assert (l80 - l40) <= 2.2 * (l40 - l20), (l20, l40, l80)
    assert (b80 - b40) <= 2.2 * (b40 - b20), (b20, b40, b80)
