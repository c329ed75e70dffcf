"""The equality (likställighet) matrix: districts × guaranteed interventions, and what it flags."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from engine import EqualityMatrix, build, compile_process, equality_from_build, equality_matrix
from engine.cli import app
from engine.equality import deadline_tightened
from engine.schema import Deadline

from tests.conftest import ROOT

REAL = build([ROOT / "processes", ROOT / "local_overrides"])
CENTRAL = REAL.central["bryt_upp"].compiled
assert CENTRAL is not None
DISTRICTS = {name: built.compiled for name, built in sorted(REAL.districts.items()) if built.compiled is not None}
MATRIX = equality_matrix(CENTRAL, DISTRICTS.values())
PATHS = ["-p", str(ROOT / "processes"), "-p", str(ROOT / "local_overrides")]
# Read from the central file, not through the module under test.
GUARANTEED = [s.intervention for s in CENTRAL.process.steps.values() if s.guaranteed and s.intervention]


def test_every_district_and_every_guaranteed_intervention() -> None:
    assert len(DISTRICTS) == 11
    assert [row.district for row in MATRIX.districts] == sorted(DISTRICTS)
    assert [c.intervention for c in MATRIX.columns] == list(dict.fromkeys(GUARANTEED))
    assert all(c.central for c in MATRIX.columns)
    assert equality_from_build(REAL) == MATRIX
    for row in MATRIX.districts:
        p = DISTRICTS[row.district].process
        assert [c.intervention for c in row.cells] == [c.intervention for c in MATRIX.columns]
        assert row.version == DISTRICTS[row.district].version
        for cell in row.cells:
            assert cell.guaranteed and cell.units, (row.district, cell.intervention)
            expected = {s for s, step in p.steps.items() if step.intervention == cell.intervention}
            assert set(cell.steps) == expected
            for unit in cell.units:
                assert unit.id is not None
                assert unit.label == p.units[unit.id].label and unit.kind == p.units[unit.id].kind
                for step in unit.steps:
                    assert p.bindings[p.steps[step].role or ""] == unit.id


def test_tightened_deadlines() -> None:
    tightened = {row.district: [(t.step, t.central, t.local) for t in row.tightened_deadlines] for row in MATRIX.districts}
    assert tightened == {
        **{name: [] for name in DISTRICTS},
        "farsta": [("child_preliminary_assessment", "14d", "10d")],
        "sodermalm": [("schooling", "7d", "5d")],
        "norra_innerstaden": [("schooling", "7d", "5d")],
    }
    # Schooling is a guaranteed intervention, so its cell says so; child_preliminary_assessment is not in any cell.
    assert MATRIX.cell("sodermalm", "schooling").tightened == ["schooling"]
    assert MATRIX.cell("norra_innerstaden", "schooling").tightened == ["schooling"]
    assert MATRIX.cell("bromma", "schooling").tightened == []
    farsta = MATRIX.row("farsta").tightened_deadlines[0]
    assert farsta.counts_from == "report_received" and farsta.label == CENTRAL.step("child_preliminary_assessment").label


def test_local_police_steps() -> None:
    local = {row.district: [s.step for s in row.local_steps] for row in MATRIX.districts}
    assert local == {
        **{name: [] for name in DISTRICTS},
        "jarva": ["local_police_collaboration"],
        "hasselby_vallingby": ["islandsmodellen_children"],
        "skarholmen": ["igor_police_collaboration"],
    }
    for district in ("jarva", "hasselby_vallingby", "skarholmen"):
        (step,) = MATRIX.row(district).local_steps
        assert "lokalpolisen" in step.label
        assert step.after == ["initial_safety_assessment"]
        assert step.unit is not None and step.deadline is not None


def test_units_against_the_majority() -> None:
    health = next(c for c in MATRIX.columns if c.intervention == "health_care_contact")
    assert health.majority == {
        "role": ["health_care_coordinator"],
        "kind": ["district"],
        "unit": ["samordnare_halso_sjukvard"],
    }
    flagged = {row.district for row in MATRIX.districts if MATRIX.cell(row.district, "health_care_contact").differs}
    assert flagged == {"bromma", "farsta", "hasselby_vallingby", "kungsholmen", "skarpnack"}
    assert MATRIX.cell("farsta", "health_care_contact").differs == ["unit"]
    # Every district's own RVC gives the support conversations: one unit, "rvc", nothing differs.
    support = next(c for c in MATRIX.columns if c.intervention == "support_conversations")
    assert support.majority["unit"] == ["rvc"]
    assert not any(MATRIX.cell(d, "support_conversations").differs for d in DISTRICTS)
    # Housing decisions are organised many ways: no unit has a majority, so no unit is flagged.
    housing = next(c for c in MATRIX.columns if c.intervention == "stable_housing_support")
    assert "unit" not in housing.majority
    assert not any(MATRIX.cell(d, "stable_housing_support").differs for d in DISTRICTS)
    assert MATRIX.cell("kungsholmen", "financial_support").differs == ["unit"]


def test_a_district_that_gives_an_intervention_to_another_kind_of_unit() -> None:
    bromma = DISTRICTS["bromma"].process
    own = {**bromma.bindings, "support_conversations_provider": "relationsvaldsteamet"}
    changed = compile_process(bromma.model_copy(update={"bindings": own}))
    matrix = equality_matrix(CENTRAL, [changed, *(d for name, d in DISTRICTS.items() if name != "bromma")])
    assert matrix.cell("bromma", "support_conversations").differs == ["kind", "unit"]
    assert matrix.cell("farsta", "support_conversations").differs == []


def test_deadline_tightened() -> None:
    def d(within: str, event: str = "report_received") -> Deadline:
        return Deadline.model_validate({"within": within, "from": event})

    assert deadline_tightened(d("10d"), d("14d"))
    assert deadline_tightened(d("1w"), None)
    assert not deadline_tightened(d("14d"), d("14d"))
    assert not deadline_tightened(d("2w"), d("14d"))  # the same length, written differently
    assert not deadline_tightened(d("10d", "case_opened"), d("14d"))
    assert not deadline_tightened(d("1m"), d("30d"))  # longer in 31-day months


def test_csv_round_trips() -> None:
    text = MATRIX.to_csv()
    assert EqualityMatrix.from_csv(text) == MATRIX
    records = list(csv.DictReader(io.StringIO(text)))
    assert (records[0]["typ"], records[0]["stadsdel"], records[0]["version"]) == ("stad", "bryt_upp", CENTRAL.version)
    cells = {(r["stadsdel"], r["insats"]) for r in records if r["typ"] == "insats"}
    assert cells == {(d, i) for d in DISTRICTS for i in dict.fromkeys(GUARANTEED)}
    flags = {(r["stadsdel"], r["insats"]): r["flaggor"] for r in records if r["typ"] == "insats"}
    assert flags["sodermalm", "schooling"] == "skärpt_tidsfrist"
    assert flags["farsta", "health_care_contact"] == "avviker_enhet"
    assert {r["stadsdel"] for r in records if r["typ"] == "lokalt_steg"} == {"jarva", "hasselby_vallingby", "skarholmen"}
    # A row per unit: the protected housing cell has the adults' unit and the children's.
    assert (
        sum(1 for r in records if r["typ"] == "insats" and r["stadsdel"] == "farsta" and r["insats"] == "protected_housing") == 2
    )


def test_json_round_trips() -> None:
    assert EqualityMatrix.model_validate_json(MATRIX.model_dump_json()) == MATRIX


runner = CliRunner()


def test_command_prints_a_table_with_swedish_headers() -> None:
    result = runner.invoke(app, ["equality", *PATHS])
    assert result.exit_code == 0, result.output
    for header in ("Likställighet", "Stadsdel", "Skyddat boende", "Lokala steg", "Skärpta tidsfrister", "Flertalet"):
        assert header in result.stdout
    assert "local_police_collaboration" in result.stdout


@pytest.mark.parametrize("option", ["--json", "--csv"])
def test_command_prints_json_and_csv(option: str) -> None:
    result = runner.invoke(app, ["equality", option, *PATHS])
    assert result.exit_code == 0, result.output
    if option == "--json":
        assert EqualityMatrix.model_validate(json.loads(result.stdout)) == MATRIX
    else:
        assert EqualityMatrix.from_csv(result.stdout) == MATRIX


def test_command_refuses_both_formats() -> None:
    assert runner.invoke(app, ["equality", "--json", "--csv", *PATHS]).exit_code == 2
