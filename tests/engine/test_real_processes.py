"""The real files: the city-wide process and the 11 district overrides."""

from __future__ import annotations

import pytest

from engine import Build, build, evaluate
from tests.conftest import ROOT

DISTRICTS = [
    "bromma",
    "enskede_arsta_vantor",
    "farsta",
    "hagersten_alvsjo",
    "hasselby_vallingby",
    "jarva",
    "kungsholmen",
    "norra_innerstaden",
    "skarpnack",
    "skarholmen",
    "sodermalm",
]
PROGRAMME = [
    "advice_guidance",
    "support_conversations",
    "legal_process_support",
    "stable_housing_support",
    "financial_support",
    "practical_support",
    "health_care_contact",
]


@pytest.fixture(scope="module")
def real() -> Build:
    return build([ROOT / "processes", ROOT / "local_overrides"])


def test_every_district_validates_clean(real: Build) -> None:
    assert [str(f) for f in real.findings] == []
    assert sorted(real.districts) == sorted(DISTRICTS)


def test_every_role_is_bound_in_every_district(real: Build) -> None:
    for built in real.districts.values():
        assert built.compiled is not None
        assert set(built.compiled.process.bindings) == set(built.compiled.process.roles)


def test_the_programme_interventions_are_guaranteed_steps(real: Build) -> None:
    central = real.central["bryt_upp"].compiled
    assert central is not None
    interventions = central.process.interventions
    assert sorted(i for i, x in interventions.items() if x.programme) == sorted(PROGRAMME)
    for step_id in PROGRAMME:
        step = central.process.steps[step_id]
        assert step.guaranteed and step.intervention == step_id


def test_child_track_deadlines_are_those_of_the_law(real: Build) -> None:
    steps = real.central["bryt_upp"].compiled.process.steps  # type: ignore[union-attr]
    deadlines = {
        s: (steps[s].deadline.within, steps[s].deadline.from_)
        for s in [  # type: ignore[union-attr]
            "child_protection_assessment",
            "child_preliminary_assessment",
            "child_investigation_start",
            "child_investigation",
            "schooling",
        ]
    }
    assert deadlines == {
        "child_protection_assessment": ("0d", "report_received"),
        "child_preliminary_assessment": ("14d", "report_received"),
        "child_investigation_start": ("0d", "step_opened"),
        "child_investigation": ("4m", "child_investigation_opened"),
        "schooling": ("7d", "placement_started"),
    }
    assert steps["child_protected_housing_decision"].for_each == "child"


def test_the_stable_housing_mandate_differs_between_farsta_jarva_and_skarholmen(real: Build) -> None:
    units = {d: real.districts[d].compiled.process.unit_for("stable_housing_support") for d in ("farsta", "jarva", "skarholmen")}  # type: ignore[union-attr]
    labels = {d: u.label for d, u in units.items() if u is not None}
    assert len(set(labels.values())) == 3, labels


def test_districts_differ_in_who_refers_to_shis_and_gives_practical_support(real: Build) -> None:
    for role in ("shis_referrer", "practical_support_provider"):
        labels = {
            real.districts[d].compiled.process.units[real.districts[d].compiled.process.bindings[role]].label  # type: ignore[union-attr]
            for d in DISTRICTS
        }
        assert len(labels) >= 3, (role, labels)


def test_local_steps_and_tightened_deadlines_exist(real: Build) -> None:
    with_local = [d for d in DISTRICTS if real.districts[d].compiled.process.local_steps]  # type: ignore[union-attr]
    assert len(with_local) >= 2
    central = real.central["bryt_upp"].compiled.process.steps  # type: ignore[union-attr]
    tightened = [
        (d, s)
        for d in DISTRICTS
        for s, step in real.districts[d].compiled.process.steps.items()  # type: ignore[union-attr]
        if s in central and step.deadline != central[s].deadline
    ]
    assert tightened


def test_support_conversations_are_given_by_the_rvc_serving_the_district(real: Build) -> None:
    rvc = {
        "jarva": "Väst",
        "hasselby_vallingby": "Väst",
        "bromma": "Väst",
        "skarholmen": "Sydväst",
        "hagersten_alvsjo": "Sydväst",
        "sodermalm": "Innerstaden",
        "kungsholmen": "Innerstaden",
        "norra_innerstaden": "Innerstaden",
        "enskede_arsta_vantor": "Sydost",
        "farsta": "Sydost",
        "skarpnack": "Sydost",
    }
    for district, name in rvc.items():
        p = real.districts[district].compiled.process  # type: ignore[union-attr]
        unit = p.unit_for("support_conversations")
        assert unit is not None and unit.kind == "rvc" and name in unit.label, (district, unit)


def test_no_step_contacting_the_family_is_reachable_in_honour_cases(real: Build) -> None:
    central = real.central["bryt_upp"].compiled
    assert central is not None
    into_network = [
        condition
        for source, target, data in central.graph.in_edges("network_meeting", data=True)
        for condition in [data["condition"]]
    ]
    assert into_network, "network_meeting is not reached at all"
    for condition in into_network:
        assert condition is not None
        for risk in (None, "low", "medium", "high"):
            assert not evaluate(condition, {"honour_related": True, "risk_level": risk, "needs": set()})


def test_every_process_file_declares_its_schema_for_editors() -> None:
    for path in [ROOT / "processes" / "bryt_upp.yaml", *sorted((ROOT / "local_overrides").glob("*.yaml"))]:
        assert path.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema="), path
