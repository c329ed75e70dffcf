"""The equality (likställighet) matrix: districts × guaranteed interventions, and what it flags."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter

import pytest
from typer.testing import CliRunner

from engine import EqualityMatrix, build, compile_process, equality_from_build, equality_matrix
from engine.cli import app
from engine.equality import Cell, TightenedDeadline, cell_remarks, deadline_sentence, deadline_tightened, row_remarks
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
    # Housing decisions are organised many ways: no unit has a majority, so every district is flagged
    # on its unit (there is no common way to depart from), and nothing else is flagged there.
    housing = next(c for c in MATRIX.columns if c.intervention == "stable_housing_support")
    assert "unit" not in housing.majority and housing.varies == ["unit"]
    assert housing.majority["kind"] == ["district"] and housing.majority["role"] == ["housing_decision"]
    assert all(MATRIX.cell(d, "stable_housing_support").differs == ["unit"] for d in DISTRICTS)
    assert MATRIX.cell("kungsholmen", "financial_support").differs == ["unit"]


def test_every_cell_that_differs_is_flagged() -> None:
    """Worked out here from the cells' units, not through derived.py: a cell is flagged on its units
    exactly when its set of units is not one more than half of the districts share, or when no set
    has such a majority and the districts do not all share one."""
    for column in MATRIX.columns:
        cells = [MATRIX.cell(d, column.intervention) for d in DISTRICTS]

        def units(cell: Cell) -> frozenset[str]:
            return frozenset("rvc" if u.kind == "rvc" else str(u.id) for u in cell.units)

        counts = Counter(units(c) for c in cells)
        (common, held), *_ = counts.most_common(1)
        for cell in cells:
            differs = (held * 2 <= len(cells) and len(counts) > 1) or (held * 2 > len(cells) and units(cell) != common)
            assert ("unit" in cell.differs) == differs, (cell.district, column.intervention)
            if differs:
                assert cell.flagged
    # The columns where the units are spread over many: each of them flags all eleven districts.
    spread = {c.intervention for c in MATRIX.columns if c.varies}
    assert spread == {"stable_housing_support", "practical_support", "shis_mellanbo_referral"}
    for intervention in spread:
        assert sum(1 for d in DISTRICTS if MATRIX.cell(d, intervention).differs) == 11


def test_local_instructions_are_flagged_in_their_cells() -> None:
    for row in MATRIX.districts:
        notes = DISTRICTS[row.district].process.step_notes
        assert [n.step for n in row.step_notes] == [s for s in DISTRICTS[row.district].process.steps if s in notes]
        for cell in row.cells:
            assert cell.noted == [s for s in cell.steps if s in notes]
    assert MATRIX.cell("sodermalm", "protected_housing").noted == ["protected_housing_renewal"]
    assert MATRIX.cell("bromma", "protected_housing").noted == []
    assert MATRIX.cell("sodermalm", "protected_housing").flagged


def test_the_explanations_are_swedish_sentences_with_labels() -> None:
    farsta = MATRIX.row("farsta")
    (deadline,) = [r.text for r in row_remarks(MATRIX, farsta) if r.kind == "tightened"]
    assert deadline == "Skärpt frist för Förhandsbedömning: inom 10 dagar i stället för 14 från att orosanmälan om barn inkom."
    (schooling,) = [r.text for r in cell_remarks(MATRIX, MATRIX.cell("sodermalm", "schooling")) if r.kind == "tightened"]
    assert "inom 5 dagar i stället för 7 från att placering i skyddat boende påbörjades" in schooling
    (health,) = [r.text for r in cell_remarks(MATRIX, MATRIX.cell("farsta", "health_care_contact")) if r.kind == "differs"]
    assert health == (
        "Avviker från flertalet: här ansvarar Relationsvåldsteamet (RVT), "
        "i 6 av 11 stadsdelar Samordnare för samverkan med hälso- och sjukvården."
    )
    (housing,) = [r.text for r in cell_remarks(MATRIX, MATRIX.cell("jarva", "stable_housing_support")) if r.kind == "varies"]
    assert housing.startswith("Ingen enhet är gemensam för flertalet stadsdelar: 8 olika enheter i 11 stadsdelar.")
    assert "Här Boendeenheten, bostadssociala teamet, ingen annan stadsdel har samma." in housing
    ids = {u.id for row in MATRIX.districts for c in row.cells for u in c.units} | set(GUARANTEED) | {"unit", "deadline"}
    for row in MATRIX.districts:
        remarks = [*row_remarks(MATRIX, row), *(r for c in row.cells for r in cell_remarks(MATRIX, c))]
        for remark in remarks:
            words = set(re.findall(r"[\w()]+", remark.text))
            assert not words & ids, (row.district, remark.text)
        # Every flag of every cell has its sentence.
        for cell in row.cells:
            kinds = [r.kind for r in cell_remarks(MATRIX, cell)]
            assert len([k for k in kinds if k in ("differs", "varies")]) == len(cell.differs)
            assert kinds.count("tightened") == len(cell.tightened) and kinds.count("noted") == len(cell.noted)


def test_deadline_sentences() -> None:
    def t(local: str, central: str | None, event: str = "report_received") -> str:
        label = "Orosanmälan om barn inkom"
        deadline = TightenedDeadline(
            step="s", label="Steget", central=central, local=local, counts_from=event, counts_from_label=label
        )
        return deadline_sentence(deadline)

    assert t("10d", "14d") == "Skärpt frist för Steget: inom 10 dagar i stället för 14 från att orosanmälan om barn inkom."
    assert t("1w", "14d") == "Skärpt frist för Steget: inom 1 vecka i stället för 14 dagar från att orosanmälan om barn inkom."
    assert t("0d", "2d") == "Skärpt frist för Steget: samma dag i stället för 2 dagar från att orosanmälan om barn inkom."
    assert t("3d", None, "step_opened").endswith("inom 3 dagar från att steget öppnades; staden har ingen frist för steget.")


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
    assert flags["farsta", "stable_housing_support"] == "avviker_enhet lokal_anvisning"
    assert flags["sodermalm", "protected_housing"] == "lokal_anvisning"
    notes = {(r["stadsdel"], r["steg"]): r["anvisning"] for r in records if r["typ"] == "anvisning"}
    assert notes["farsta", "sip_health_care"] == DISTRICTS["farsta"].process.step_notes["sip_health_care"]
    assert len(notes) == sum(len(d.process.step_notes) for d in DISTRICTS.values())
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
