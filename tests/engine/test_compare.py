"""A draft of a district's file against its live version (engine/compare.py, render.change_diagram,
equality.equality_changes), on the real files: Farsta's override edited as a process owner would."""

from __future__ import annotations

from functools import cache

import pytest

from engine import (
    CompiledProcess,
    ProcessChanges,
    build,
    change_diagram,
    clear_render_cache,
    compare,
    equality_changes,
    render,
    render_cache_info,
    render_changes,
)
from engine.compare import NoteReview, RoleChange, StepChange
from tests.conftest import ROOT
from tests.engine.test_render import svg_edges, svg_nodes

CENTRAL_PATH = ROOT / "processes" / "bryt_upp.yaml"
FARSTA_PATH = ROOT / "local_overrides" / "farsta.yaml"
FARSTA = FARSTA_PATH.read_text(encoding="utf-8")

RVT = "Relationsvåldsteamet (RVT)"
PRACTICAL = "Praktiskt stöd i form av lots eller boendestöd"
PRACTICAL_NOTE = "Praktiskt stöd ges som lots av RVT, av samma team som utreder."
HOUSING = "Stöd och hjälp till stadigvarande boende"


@cache
def built(text: str = FARSTA) -> tuple[CompiledProcess, CompiledProcess]:
    """Farsta from ``text`` and the central process, through the whole pipeline."""
    result = build([CENTRAL_PATH, FARSTA_PATH], texts={FARSTA_PATH: text})
    farsta, central = result.districts["farsta"], result.central["bryt_upp"]
    assert farsta.ok and farsta.compiled is not None, farsta.findings
    assert central.compiled is not None
    return farsta.compiled, central.compiled


def draft(old: str, new: str) -> CompiledProcess:
    assert old in FARSTA, old
    return built(FARSTA.replace(old, new, 1))[0]


def live() -> CompiledProcess:
    return built()[0]


def central() -> CompiledProcess:
    return built()[1]


REBIND_PRACTICAL = ("  practical_support_provider: relationsvaldsteamet", "  practical_support_provider: socialpsykiatri")
TIGHTEN = ("      within: 10d\n      from: report_received", "      within: 7d\n      from: report_received")
REMOVE_NETWORK_MEETING = (
    "  legal_process_support:\n    contacts: [polisen_farsta]\n",
    "  legal_process_support:\n    contacts: [polisen_farsta]\n  network_meeting:\n    remove: true\n",
)
REDIRECT_HOUSING = (
    "  legal_process_support:\n    contacts: [polisen_farsta]\n",
    """\
  legal_process_support:
    contacts: [polisen_farsta]
  intervention_decision:
    redirect: {stable_housing_support: local_housing_check}
add_steps:
  local_housing_check:
    label: Boendesamråd i RVT
    phase: decision
    role: housing_decision
    next:
      stable_housing_support: {}
""",
)


# --- nothing changed ----------------------------------------------------------------------------


def test_identical_versions_have_no_changes() -> None:
    again = built(FARSTA + "\n# a comment moves nothing\n")[0]
    changes = compare(live(), again)
    assert changes.empty and changes.steps == [] and changes.roles == [] and changes.lines == []
    assert equality_changes(central(), live(), again) == []
    nodes = svg_nodes(render(change_diagram(again, live())))
    assert "Inga ändringar mot den gällande versionen" in nodes["_nothing"][1]


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "local_overrides").glob("*.yaml")))
def test_every_district_against_itself_is_empty_and_against_the_city_is_not(name: str) -> None:
    result = build([CENTRAL_PATH, ROOT / "local_overrides" / f"{name}.yaml"])
    district, city = result.districts[name].compiled, result.central["bryt_upp"].compiled
    assert district is not None and city is not None
    assert compare(district, district).empty
    assert not compare(city, district).empty


# --- who is responsible -----------------------------------------------------------------------


def test_a_role_moved_to_another_unit_shows_the_old_and_new_unit_on_its_step() -> None:
    changes = compare(live(), draft(*REBIND_PRACTICAL))
    assert changes.steps == [
        StepChange(
            step="practical_support",
            label=PRACTICAL,
            kind="responsible",
            text=f"ansvar flyttat från {RVT} till Socialpsykiatriska enheten",
            before=RVT,
            after="Socialpsykiatriska enheten",
            role_before="practical_support_provider",
            role_after="practical_support_provider",
            unit_before="relationsvaldsteamet",
            unit_after="socialpsykiatri",
        )
    ]
    assert changes.roles == [
        RoleChange(
            role="practical_support_provider",
            role_label="Praktiskt stöd (lots eller boendestöd)",
            unit_before="relationsvaldsteamet",
            unit_before_label=RVT,
            unit_after="socialpsykiatri",
            unit_after_label="Socialpsykiatriska enheten",
            steps=["practical_support"],
        )
    ]
    assert changes.lines[:2] == [
        f"Rollen Praktiskt stöd (lots eller boendestöd) flyttas från {RVT} till Socialpsykiatriska enheten (1 steg).",
        f"{PRACTICAL}: ansvar flyttat från {RVT} till Socialpsykiatriska enheten.",
    ]


def test_a_note_left_beside_a_new_unit_is_flagged_for_review() -> None:
    changes = compare(live(), draft(*REBIND_PRACTICAL))
    assert changes.review_notes == [
        NoteReview(
            step="practical_support",
            label=PRACTICAL,
            unit_before="relationsvaldsteamet",
            unit_before_label=RVT,
            unit_after="socialpsykiatri",
            unit_after_label="Socialpsykiatriska enheten",
            note=PRACTICAL_NOTE,
        )
    ]
    assert changes.lines[-1] == (
        f"Granska anteckningen vid {PRACTICAL}: ansvaret flyttas från {RVT} till Socialpsykiatriska enheten, "
        f"men anteckningen är oförändrad: ”{PRACTICAL_NOTE}”"
    )


def test_a_note_changed_with_the_unit_is_not_flagged() -> None:
    text = FARSTA.replace("  housing_decision: relationsvaldsteamet", "  housing_decision: ekonomiskt_bistand").replace(
        "I Farsta fattar RVT beslut", "I Farsta fattar ekonomiskt bistånd beslut"
    )
    changes = compare(live(), built(text)[0])
    assert changes.review_notes == []
    assert [(c.step, c.kind, c.text) for c in changes.steps] == [
        ("stable_housing_support", "responsible", f"ansvar flyttat från {RVT} till Enheten för ekonomiskt bistånd"),
        ("stable_housing_support", "note", "anteckningen ändrad"),
    ]
    note = changes.of("stable_housing_support", "note")[0]
    assert note.before is not None and note.before.startswith("I Farsta fattar RVT beslut")
    assert note.after is not None and note.after.startswith("I Farsta fattar ekonomiskt bistånd beslut")


def test_a_step_given_to_another_role_of_the_same_unit_is_not_a_move() -> None:
    changes = compare(
        live(), draft("  practical_support:\n    note:", "  practical_support:\n    role: vinr_investigator\n    note:")
    )
    assert [(c.kind, c.text, c.unit_before, c.unit_after) for c in changes.of("practical_support")] == [
        (
            "responsible",
            "ansvarig roll ändrad från Praktiskt stöd (lots eller boendestöd) till Relationsvåldsteam (RVT), samma enhet",
            "relationsvaldsteamet",
            "relationsvaldsteamet",
        )
    ]
    assert changes.review_notes == [] and changes.roles == []


# --- deadlines, guarantees, routes, contacts --------------------------------------------------------


def test_a_tightened_deadline_and_the_way_back_loosened() -> None:
    tighter = draft(*TIGHTEN)
    (change,) = compare(live(), tighter).steps
    assert (change.step, change.kind, change.text, change.tightened) == (
        "child_preliminary_assessment",
        "deadline",
        "tidsfrist skärpt från 10 dagar till 7 dagar",
        True,
    )
    assert (change.before, change.after) == (
        "inom 10 dagar från att orosanmälan om barn inkom",
        "inom 7 dagar från att orosanmälan om barn inkom",
    )
    (back,) = compare(tighter, live()).steps
    assert (back.text, back.tightened) == ("tidsfrist förlängd från 7 dagar till 10 dagar", False)


def test_a_guarantee_added_is_reported() -> None:
    changes = compare(
        live(), draft(REMOVE_NETWORK_MEETING[0], REMOVE_NETWORK_MEETING[0] + "  network_meeting:\n    guaranteed: true\n")
    )
    assert [(c.step, c.kind, c.text, c.before, c.after) for c in changes.steps] == [
        ("network_meeting", "guarantee", "blir garanterad insats", "inte garanterad", "garanterad")
    ]


def test_a_removed_step_and_the_route_that_takes_its_place() -> None:
    changes = compare(live(), draft(*REMOVE_NETWORK_MEETING))
    assert [(c.step, c.kind, c.text, c.target_before, c.target_after) for c in changes.steps] == [
        ("intervention_decision", "route", "ny väg till Gemensam uppföljning", None, "follow_up"),
        ("network_meeting", "removed", "steget tas bort", None, None),
    ]
    assert (
        changes.of("intervention_decision")[0].after
        == "till Gemensam uppföljning när not honour_related and risk_level != 'high'"
    )


def test_a_redirect_through_a_new_step_is_one_route_change_and_undoing_it_another() -> None:
    redirected = draft(*REDIRECT_HOUSING)
    changes = compare(live(), redirected)
    assert [(c.step, c.kind, c.text) for c in changes.steps] == [
        ("intervention_decision", "route", f"vägen till {HOUSING} går via Boendesamråd i RVT"),
        ("local_housing_check", "added", f"nytt steg i fasen Beslut om insatser, ansvarig {RVT}"),
    ]
    route = changes.of("intervention_decision")[0]
    assert (route.target_before, route.target_after) == ("stable_housing_support", "local_housing_check")
    assert (route.before, route.after) == (
        f"till {HOUSING} när 'housing' in needs",
        "till Boendesamråd i RVT när 'housing' in needs",
    )
    assert [(c.step, c.kind, c.text) for c in compare(redirected, live()).steps] == [
        ("intervention_decision", "route", f"vägen till {HOUSING} går inte längre via Boendesamråd i RVT"),
        ("local_housing_check", "removed", "steget tas bort"),
    ]


def test_changed_contacts_name_them() -> None:
    changes = compare(live(), draft("contacts: [polisen_farsta]", "contacts: [polisen_farsta, vardcentral_farsta]"))
    assert [(c.step, c.kind, c.text, c.before, c.after) for c in changes.steps] == [
        (
            "legal_process_support",
            "contacts",
            "kontakterna ändrade",
            "Lokalpolisområdet som omfattar Farsta",
            "Lokalpolisområdet som omfattar Farsta; Vårdcentral i Farsta",
        )
    ]


def test_a_district_against_the_city_names_what_the_district_changes() -> None:
    changes = compare(central(), live())
    assert changes.of("child_preliminary_assessment") == [
        StepChange(
            step="child_preliminary_assessment",
            label="Förhandsbedömning",
            kind="deadline",
            text="tidsfrist skärpt från 14 dagar till 10 dagar",
            before="inom 14 dagar från att orosanmälan om barn inkom",
            after="inom 10 dagar från att orosanmälan om barn inkom",
            tightened=True,
        )
    ]
    assert not changes.of("child_preliminary_assessment", "responsible")  # the city binds no units
    assert {c.step for c in changes.steps if c.kind == "note"} == set(live().process.step_notes)
    assert changes.roles == [] and changes.review_notes == []


def test_the_changes_are_json() -> None:
    changes = compare(live(), draft(*REBIND_PRACTICAL))
    data = changes.model_dump(mode="json")
    assert data["steps"][0]["unit_after"] == "socialpsykiatri" and data["review_notes"][0]["note"] == PRACTICAL_NOTE
    assert ProcessChanges.model_validate(data) == changes


# --- the diagram ---------------------------------------------------------------------------------


def test_the_change_diagram_marks_the_moved_step_and_its_stale_note() -> None:
    svg = render_changes(draft(*REBIND_PRACTICAL), live())
    nodes = svg_nodes(svg)
    cls, text = nodes["practical_support"]
    text = " ".join(text.split())
    assert {"changed", "review"} <= set(cls.split())
    assert "Ändrat i utkastet:" in text and f"ansvar flyttat från {RVT} till Socialpsykiatriska enheten" in text
    assert "Anteckning att granska" in text and "lots av RVT" in text
    assert "context" in nodes["intervention_decision"][0].split() and "context" in nodes["follow_up"][0].split()
    assert "stable_housing_support" not in nodes  # unchanged, and not next to a change
    legend = " ".join(t for n, (_, t) in nodes.items() if n.startswith("_legend"))
    for item in ("Nytt i utkastet", "Ändrat i utkastet", "Borttaget i utkastet", "Anteckning att granska"):
        assert item in legend


def test_the_change_diagram_shows_removed_steps_and_redirects() -> None:
    nodes = svg_nodes(render(change_diagram(draft(*REMOVE_NETWORK_MEETING), live())))
    assert "removed" in nodes["network_meeting"][0].split() and "Borttaget i utkastet" in nodes["network_meeting"][1]
    svg = render(change_diagram(draft(*REDIRECT_HOUSING), live()))
    assert "local" in svg_nodes(svg)["local_housing_check"][0].split()
    assert "redirect" in svg_edges(svg)["_gw_intervention_decision->local_housing_check"].split()


def test_render_changes_is_cached_by_both_versions() -> None:
    clear_render_cache()
    new = draft(*TIGHTEN)
    first = render_changes(new, live(), format="png")
    assert first.startswith(b"\x89PNG") and render_changes(new, live(), format="png") == first
    assert render_cache_info().hits == 1
    with pytest.raises(ValueError, match="unknown format"):
        render_changes(new, live(), format="gif")  # type: ignore[arg-type]


# --- the equality matrix -------------------------------------------------------------------------


def test_equality_changes_name_the_cell_whose_unit_moved() -> None:
    (change,) = equality_changes(central(), live(), draft(*REBIND_PRACTICAL))
    assert change.model_dump() == {
        "district": "farsta",
        "intervention": "practical_support",
        "intervention_label": PRACTICAL,
        "aspect": "unit",
        "aspect_label": "enhet",
        "before": RVT,
        "after": "Socialpsykiatriska enheten",
        "text": f"{PRACTICAL}, enhet: från {RVT} till Socialpsykiatriska enheten.",
    }


def test_equality_changes_name_a_tightened_deadline_of_a_guaranteed_intervention() -> None:
    text = FARSTA.replace(
        "  legal_process_support:\n",
        "  schooling:\n    deadline: {within: 5d, from: placement_started}\n  legal_process_support:\n",
    )
    (change,) = equality_changes(central(), live(), built(text)[0])
    assert (change.intervention, change.aspect, change.before, change.after) == (
        "schooling",
        "deadline",
        "ingen",
        "Skolgång för barn i skyddat boende: 5 dagar från att placering i skyddat boende påbörjades",
    )


def test_equality_changes_ignore_what_the_matrix_does_not_show() -> None:
    assert equality_changes(central(), live(), draft(*TIGHTEN)) == []  # no intervention on that step
    assert equality_changes(central(), live(), draft(*REMOVE_NETWORK_MEETING)) == []
