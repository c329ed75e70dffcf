"""Stage 2: a district override merged onto the central process, one case per semantic."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import CompiledProcess, ProcessError, compile_process, load_override, load_process, merge_override, validate_process
from engine.load import read_yaml, validate_data
from engine.schema import DistrictOverride
from tests.conftest import MINI, MINI_PATH, OVERRIDE, Writer

District = Callable[..., CompiledProcess]

# The mini process with city-wide units: two RVCs and socialjouren, bound by default.
CITY = (MINI_PATH.parent / "city.yaml").read_text(encoding="utf-8")
CITY_OVERRIDE = """\
district: testby
label: Testby stadsdelsförvaltning
extends: mini_city
rvc: rvc_norr
units:
  mottagningen: {label: Mottagningen}
roles:
  intake: mottagningen
"""


def refusals(district: District, extra: str) -> list[str]:
    with pytest.raises(ProcessError) as info:
        district(extra)
    return [f"{f.check}: {f.message}" for f in info.value.findings]


def test_binding_roles_gives_each_step_its_unit(district: District) -> None:
    p = district().process
    assert p.bindings == {"intake": "mottagningen", "rvt": "rvt_testby"}
    unit = p.unit_for("advice")
    assert unit is not None and unit.label == "Relationsvåldsteamet"


def test_binding_to_an_undeclared_unit_is_refused_with_a_suggestion(district: District) -> None:
    text = OVERRIDE.replace("rvt: rvt_testby", "rvt: rvt_testy")
    assert refusals(lambda e: district(e, base=text), "") == [
        "unknown_unit: unknown unit 'rvt_testy' (not declared under units); did you mean 'rvt_testby'?"
    ]


def test_refusal_names_the_district_file_line_and_column(district: District, write: Writer) -> None:
    text = OVERRIDE.replace("rvt: rvt_testby", "rvt: rvt_testy")
    with pytest.raises(ProcessError) as info:
        district(base=text)
    (finding,) = info.value.findings
    assert str(finding.position).endswith("testby.yaml:11:3")


def test_reassigning_a_step_role(district: District) -> None:
    p = district("steps:\n  triage: {role: rvt}\n").process
    assert p.steps["triage"].role == "rvt" and p.changed_steps == ["triage"]


def test_tightening_a_deadline(district: District) -> None:
    p = district("steps:\n  intake:\n    deadline: {within: 10d, from: case_opened}\n").process
    assert p.steps["intake"].deadline is not None and p.steps["intake"].deadline.within == "10d"


def test_loosening_a_deadline_is_refused_naming_both_files(district: District) -> None:
    with pytest.raises(ProcessError) as info:
        district("steps:\n  intake:\n    deadline: {within: 3w, from: case_opened}\n")
    (finding,) = info.value.findings
    assert finding.check == "deadline_loosened"
    assert "loosens the deadline from 14d to 3w after case_opened" in finding.message
    assert finding.position.file.endswith("testby.yaml")
    assert finding.related is not None and finding.related.file.endswith("mini.yaml")


def test_a_deadline_counting_from_another_event_is_refused(district: District) -> None:
    (message,) = refusals(district, "steps:\n  intake:\n    deadline: {within: 1d, from: report_received}\n")
    assert message.startswith("deadline_loosened: a local deadline must count from the same event")


def test_months_are_never_shorter_than_their_shortest_length(district: District) -> None:
    (message,) = refusals(district, "steps:\n  advice:\n    deadline: {within: 1m, from: step_opened}\n")
    assert "loosens the deadline from 7d to 1m" in message


def test_dropping_a_guarantee_is_refused(district: District) -> None:
    assert refusals(district, "steps:\n  advice: {guaranteed: false}\n") == [
        "guaranteed_weakened: 'advice' is guaranteed by the central process; a district cannot drop the guarantee"
    ]


def test_removing_a_guaranteed_step_is_refused(district: District) -> None:
    assert refusals(district, "steps:\n  advice: {remove: true}\n") == [
        "guaranteed_removed: 'advice' is guaranteed by the central process and cannot be removed"
    ]


def test_removing_an_optional_step_rewires_to_its_successor(district: District) -> None:
    chain = MINI.replace("      advice: {when: \"risk_level == 'high'\"}\n      triage: {when: otherwise}\n", "      triage:\n")
    p = district("steps:\n  triage: {remove: true}\n", central=chain).process
    assert "triage" not in p.steps and list(p.steps["intake"].next) == ["advice"]
    assert p.removed_steps == ["triage"]


def test_removing_a_step_that_would_double_a_transition_is_refused(district: District) -> None:
    assert refusals(district, "steps:\n  triage: {remove: true}\n") == [
        "remove_refused: removing 'triage' would give 'intake' two transitions to 'advice'"
    ]


def test_adding_a_local_step_and_transition(district: District) -> None:
    extra = (
        "add_steps:\n  police:\n    label: Samverkan med polisen\n    phase: support\n    role: rvt\n"
        "    next:\n      closed:\n"
        "add_transitions:\n  advice:\n    police: {when: \"risk_level == 'high'\"}\n"
    )
    c = district(extra.replace("  advice:\n    police", "  triage:\n    police"))
    assert c.process.local_steps == ["police"]
    assert c.graph.has_edge("triage", "police")


def test_a_local_step_declares_its_outcomes_but_a_central_step_gets_none_from_a_district(
    district: District, write: Writer
) -> None:
    extra = (
        "add_steps:\n  police:\n    label: Samverkan med polisen\n    phase: support\n    role: rvt\n"
        "    outcomes: {reported: Polisanmälan gjord}\n    next:\n      closed:\n"
        "add_transitions:\n  triage:\n    police: {when: \"risk_level == 'high'\"}\n"
    )
    assert district(extra).step("police").allowed_outcomes() == ["reported"]
    with pytest.raises(ProcessError) as info:
        load_override(write(OVERRIDE + "steps:\n  advice:\n    outcomes: {given: Rådgivning given}\n", "testby.yaml"))
    assert info.value.findings[0].message == "unknown key 'outcomes'"


def test_a_local_step_may_not_reuse_a_central_id(district: District) -> None:
    extra = "add_steps:\n  triage:\n    label: X\n    phase: support\n    role: rvt\n    next: {closed: }\n"
    assert refusals(district, extra) == ["duplicate_step: 'triage' is already a central step; change it under steps.triage"]


def test_a_central_transition_cannot_be_replaced(district: District) -> None:
    (message,) = refusals(district, "add_transitions:\n  intake:\n    advice: {when: 'false'}\n")
    assert message.startswith("transition_exists: 'intake' already has a transition to 'advice'")


def test_patching_an_unknown_step_suggests_one(district: District) -> None:
    assert refusals(district, "steps:\n  triag: {role: rvt}\n") == [
        "unknown_reference: unknown central step 'triag'; did you mean 'triage'?"
    ]


def test_redirect_through_a_local_step(district: District) -> None:
    extra = (
        "add_steps:\n  police:\n    label: Samverkan med polisen\n    phase: support\n    role: rvt\n    next: {advice: }\n"
        "steps:\n  triage:\n    redirect: {advice: police}\n"
    )
    c = district(extra)
    assert list(c.process.steps["triage"].next) == ["police"]
    assert validate_process(c) == []


def test_redirect_that_skips_a_guaranteed_step_is_a_finding(district: District) -> None:
    extra = (
        "add_steps:\n  police:\n    label: Samverkan med polisen\n    phase: support\n    role: rvt\n    next: {closed: }\n"
        "steps:\n  triage:\n    redirect: {advice: police}\n"
    )
    checks = [f.check for f in validate_process(district(extra))]
    assert "redirect_skips_guaranteed" in checks


def test_all_refusals_are_reported_together(district: District) -> None:
    extra = "steps:\n  advice: {remove: true}\n  intake:\n    deadline: {within: 30d, from: case_opened}\n"
    assert len(refusals(district, extra)) == 2


# --- city-wide units ----------------------------------------------------------------


def city_district(district: District, base: str = CITY_OVERRIDE) -> CompiledProcess:
    return district(base=base, central=CITY)


def test_a_district_gets_the_city_units_it_uses_and_their_default_bindings(district: District) -> None:
    c = city_district(district)
    p = c.process
    assert p.bindings == {"intake": "mottagningen", "support_conversations_provider": "rvc_norr", "after_hours": "socialjouren"}
    assert list(p.units) == ["mottagningen", "rvc_norr", "socialjouren"]  # not rvc_syd: it serves other districts
    unit = p.unit_for("after_hours_contact")
    assert unit is not None and unit.kind == "city" and unit.contact is not None and unit.contact.phone == "08-508 xx xxx"
    assert validate_process(c) == []


def test_a_district_binds_a_defaulted_role_to_its_own_unit_instead(district: District) -> None:
    base = CITY_OVERRIDE.replace("units:\n", "units:\n  jouren: {label: Testbys jour}\n").replace(
        "roles:\n", "roles:\n  after_hours: jouren\n"
    )
    p = city_district(district, base).process
    assert p.bindings["after_hours"] == "jouren"
    assert "socialjouren" not in p.units  # no step of Testby's process is socialjouren's


def test_a_district_may_bind_any_role_to_a_city_unit(district: District) -> None:
    p = city_district(district, CITY_OVERRIDE.replace("intake: mottagningen", "intake: socialjouren")).process
    assert p.bindings["intake"] == "socialjouren" and p.units["socialjouren"].kind == "city"


def test_the_district_rvc_chooses_the_rvc_that_serves_it(district: District) -> None:
    p = city_district(district, CITY_OVERRIDE.replace("rvc: rvc_norr", "rvc: rvc_syd")).process
    assert p.bindings["support_conversations_provider"] == "rvc_syd"
    assert p.district is not None and p.district.rvc == "rvc_syd"
    assert "rvc_norr" not in p.units


def test_an_unknown_rvc_is_refused_with_a_suggestion(district: District) -> None:
    base = CITY_OVERRIDE.replace("rvc: rvc_norr", "rvc: rvc_nor")
    assert refusals(lambda e: city_district(district, base), "") == [
        "unknown_unit: unknown unit 'rvc_nor'; did you mean 'rvc_norr'?"
    ]


def test_a_unit_that_is_not_an_rvc_cannot_serve_as_one(district: District) -> None:
    base = CITY_OVERRIDE.replace("rvc: rvc_norr", "rvc: mottagningen")
    assert refusals(lambda e: city_district(district, base), "") == [
        "wrong_unit_kind: 'mottagningen' is not an RVC (kind 'district'); the RVCs are 'rvc_norr', 'rvc_syd'"
    ]


def test_redeclaring_a_city_unit_is_refused_naming_both_files(district: District) -> None:
    base = CITY_OVERRIDE.replace("units:\n", "units:\n  socialjouren: {label: Socialjouren i Testby, kind: city}\n")
    with pytest.raises(ProcessError) as info:
        city_district(district, base)
    (finding,) = info.value.findings
    assert finding.check == "duplicate_unit" and finding.path == ("units", "socialjouren")
    assert finding.position.file.endswith("testby.yaml") and finding.position.line == 6
    assert finding.related is not None and finding.related.file.endswith("mini.yaml")
    assert finding.related.line == CITY.splitlines().index("  socialjouren:") + 1


def test_the_central_process_alone_binds_nothing_and_merging_leaves_it_as_it_was(write: Writer) -> None:
    central = load_process(write(CITY, "mini.yaml"))
    assert merge_override(central).bindings == {} and merge_override(central).units == {}
    north = validate_data(DistrictOverride, *read_yaml("testby.yaml", CITY_OVERRIDE))
    south = validate_data(DistrictOverride, *read_yaml("testby.yaml", CITY_OVERRIDE.replace("rvc: rvc_norr", "rvc: rvc_syd")))
    merge_override(central, north)
    assert merge_override(central, south).bindings["support_conversations_provider"] == "rvc_syd"
    assert central.bindings == {"support_conversations_provider": "rvc", "after_hours": "socialjouren"}
    assert list(central.units) == ["rvc_norr", "rvc_syd", "socialjouren"]


# --- laws -------------------------------------------------------------------------


def test_an_override_that_only_binds_roles_changes_no_step() -> None:
    central = load_process(MINI_PATH)
    plain = merge_override(central)
    override = validate_data(DistrictOverride, *read_yaml("testby.yaml", OVERRIDE))
    merged = merge_override(central, override)
    assert merged.steps == plain.steps and merged.start == plain.start
    assert compile_process(merged).graph.edges == compile_process(plain).graph.edges


STEP_IDS = ["intake", "triage", "advice"]
PATCHES = st.fixed_dictionaries(
    {},
    optional={
        "role": st.sampled_from(["intake", "rvt"]),
        "guaranteed": st.sampled_from([True, False]),
        "remove": st.booleans(),
        "within": st.sampled_from(["0d", "6d", "7d", "8d", "13d", "14d", "3w", "1m"]),
    },
)


CENTRAL_DOC = load_process(MINI_PATH)
CENTRAL = compile_process(merge_override(CENTRAL_DOC))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(STEP_IDS), PATCHES, max_size=3))
def test_guaranteed_steps_survive_every_accepted_override(patches: dict[str, dict[str, object]]) -> None:
    lines = ["steps:"] if patches else []
    for step_id, patch in patches.items():
        lines.append(f"  {step_id}:" + ("" if patch else " {}"))
        for key, value in patch.items():
            if key == "within":
                event = {"intake": "case_opened", "advice": "step_opened", "triage": "step_opened"}[step_id]
                lines.append(f"    deadline: {{within: {value}, from: {event}}}")
            else:
                lines.append(f"    {key}: {str(value).lower()}")
    override = validate_data(DistrictOverride, *read_yaml("testby.yaml", OVERRIDE + "\n".join(lines) + "\n"))
    try:
        merged = compile_process(merge_override(CENTRAL_DOC, override))
    except ProcessError:
        return
    assert validate_process(merged, CENTRAL) == []
    for step_id, step in CENTRAL.process.steps.items():
        if step.guaranteed:
            assert merged.process.steps[step_id].guaranteed
            assert merged.process.steps[step_id].intervention == step.intervention


def test_merging_never_changes_the_central_document(district: District, write: Writer) -> None:
    central_doc = load_process(write(MINI, "mini.yaml"))
    before = central_doc.model_dump()
    extra = (
        "add_steps:\n  police:\n    label: Polis\n    phase: support\n    role: rvt\n    next: {closed: }\n"
        "add_transitions:\n  advice:\n    police: {when: honour_related}\n"
        "steps:\n  triage: {role: rvt}\n  intake:\n    deadline: {within: 1d, from: case_opened}\n"
    )
    override = validate_data(DistrictOverride, *read_yaml("testby.yaml", OVERRIDE + extra))
    merge_override(central_doc, override)
    assert central_doc.model_dump() == before
