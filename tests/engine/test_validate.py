"""Stage 4: named checks, each reporting every finding in one pass."""

from __future__ import annotations

from collections.abc import Callable

from engine import CHECKS, CompiledProcess, validate_process
from tests.conftest import MINI

Central = Callable[..., CompiledProcess]


def checks(c: CompiledProcess, central: CompiledProcess | None = None) -> list[tuple[str, str]]:
    return [(f.check, f.message) for f in validate_process(c, central)]


def test_the_minimal_process_is_clean(central: Central) -> None:
    assert checks(central()) == []


def test_unreachable_step(central: Central) -> None:
    text = MINI.replace("      advice:\n  advice:", "      closed:\n  advice:")
    text = text.replace("      advice: {when: \"risk_level == 'high'\"}\n      triage: {when: otherwise}", "      triage:")
    assert ("unreachable_step", "step 'advice' cannot be reached from the start step 'intake'") in checks(central(text))


def test_dead_end(central: Central) -> None:
    text = MINI.replace("    next:\n      closed:\n", "")
    assert checks(central(text)) == [
        ("dead_end", "step 'advice' is not terminal (no closure_reason) but has no way on"),
        ("unreachable_step", "step 'closed' cannot be reached from the start step 'intake'"),
    ]


def test_cycle_with_no_way_out(central: Central) -> None:
    text = MINI.replace("    next:\n      closed:\n", "    next:\n      triage:\n")
    assert ("trap_cycle", "steps triage, advice form a cycle with no way out to a closing step") in checks(central(text))


def test_a_cycle_with_an_exit_is_fine(central: Central) -> None:
    text = MINI.replace(
        "    next:\n      closed:\n", "    next:\n      triage: {when: honour_related}\n      closed: {when: otherwise}\n"
    )
    assert checks(central(text)) == []


def test_unknown_references_are_all_listed(central: Central) -> None:
    text = MINI.replace("    phase: support\n", "    phase: suport\n").replace("role: rvt\n", "role: rtv\n")
    assert checks(central(text)) == [
        ("unknown_reference", "unknown phase 'suport'; did you mean 'support'?"),
        ("unknown_reference", "unknown role 'rtv'; did you mean 'rvt'?"),
    ]


def test_unbound_role(district: Callable[..., CompiledProcess]) -> None:
    from tests.conftest import OVERRIDE

    c = district(base=OVERRIDE.replace("  rvt: rvt_testby\n", ""))
    assert checks(c) == [("unbound_role", "role 'rvt' is not bound to a unit of the district")]


def test_exclusive_branches_that_can_both_hold(central: Central) -> None:
    text = MINI.replace("triage: {when: otherwise}", "triage: {when: \"risk_level in ['medium', 'high']\"}")
    found = checks(central(text))
    assert (
        "branch_overlap",
        "exclusive gateway: the conditions to 'advice' and 'triage' can both hold (e.g. risk_level='high')",
    ) in found


def test_exclusive_branches_where_none_holds(central: Central) -> None:
    text = MINI.replace("triage: {when: otherwise}", "triage: {when: \"risk_level in ['low', 'medium']\"}")
    assert checks(central(text)) == [
        ("branch_gap", "no transition's condition holds for some clients (e.g. risk_level=none); add an 'otherwise' transition")
    ]


def test_numbers_are_cut_at_their_constants(central: Central) -> None:
    text = MINI.replace("risk_level == 'high'", "age >= 65").replace("triage: {when: otherwise}", "triage: {when: age < 64}")
    assert (
        "branch_gap",
        "no transition's condition holds for some clients (e.g. age=none); add an 'otherwise' transition",
    ) in checks(central(text))
    text = MINI.replace("risk_level == 'high'", "age >= 65").replace("triage: {when: otherwise}", "triage: {when: age <= 65}")
    assert ("branch_overlap", "exclusive gateway: the conditions to 'advice' and 'triage' can both hold (e.g. age=65)") in checks(
        central(text)
    )


def test_numbers_are_sampled_inside_their_declared_range(central: Central) -> None:
    # 121 would make both hold, but no client is 121 (age: 0-120), and no case has 16
    # children (max_items: 15): neither is an overlap.
    text = MINI.replace("risk_level == 'high'", "age > 120").replace("triage: {when: otherwise}", "triage: {when: age >= 100}")
    assert checks(central(text)) == [
        ("branch_gap", "no transition's condition holds for some clients (e.g. age=none); add an 'otherwise' transition")
    ]
    text = MINI.replace("risk_level == 'high'", "count(children) > 15").replace(
        "triage: {when: otherwise}", "triage: {when: count(children) >= 15}"
    )
    assert checks(central(text)) == [
        ("branch_gap", "no transition's condition holds for some clients (e.g. count(children)=0); add an 'otherwise' transition")
    ]


def test_set_membership_is_decided(central: Central) -> None:
    text = MINI.replace("risk_level == 'high'", "'housing' in needs").replace(
        "triage: {when: otherwise}", "triage: {when: \"'housing' not in needs\"}"
    )
    assert checks(central(text)) == []


def test_an_unconditional_transition_beside_others_in_an_exclusive_gateway(central: Central) -> None:
    text = MINI.replace("triage: {when: otherwise}", "triage:")
    ((check, _),) = checks(central(text))
    assert check == "branch_overlap"


def test_parallel_gateway_takes_no_conditions(central: Central) -> None:
    text = MINI.replace(
        "    deadline: {within: 14d, from: case_opened}\n",
        "    deadline: {within: 14d, from: case_opened}\n    gateway: parallel\n",
    )
    assert ("gateway_misuse", "a parallel gateway takes every transition; use inclusive for conditional ones") in checks(
        central(text)
    )


def test_deadline_from_an_unknown_event(central: Central) -> None:
    text = MINI.replace("from: case_opened", "from: case_open")
    assert checks(central(text)) == [("unknown_reference", "unknown event 'case_open'; did you mean 'case_opened'?")]


def test_district_compared_with_central_reports_missing_guarantees(
    central: Central, district: Callable[..., CompiledProcess]
) -> None:
    c = district()
    c.process.steps["advice"].guaranteed = False  # as a merge bug would leave it
    assert ("guaranteed_missing", "guaranteed step 'advice' lost its guarantee or intervention") in checks(c, central())


def test_every_check_is_named() -> None:
    assert set(CHECKS) >= {
        "unknown_reference",
        "unknown_fact",
        "unreachable_step",
        "dead_end",
        "trap_cycle",
        "unbound_role",
        "branch_conditions",
        "redirect_skips_guaranteed",
    }


def test_findings_are_reported_in_one_pass(central: Central) -> None:
    text = MINI.replace("role: intake\n", "role: intak\n").replace("from: step_opened", "from: step_open")
    assert [check for check, _ in checks(central(text))] == ["unknown_reference"] * 3
