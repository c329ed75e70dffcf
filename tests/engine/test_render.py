"""Diagrams (engine/render.py): golden DOT sources, every district in every format, the marks, the cache.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1 pytest tests/engine/test_render.py``
and read the diff before committing it.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import (
    Build,
    CaseState,
    CompiledProcess,
    build,
    case_diagram,
    clear_render_cache,
    decide,
    diff_diagram,
    process_diagram,
    render,
    render_cache_info,
    render_case,
    render_process,
)
from engine.cli import app
from engine.diagram import diagram_of
from engine.overview import SCALE, Figures, overview_diagram, phase_diagram
from tests.conftest import MINI, ROOT

render_module = importlib.import_module("engine.render")  # `engine.render` is the function

GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
SVG = "{http://www.w3.org/2000/svg}"
DISTRICTS = sorted(p.stem for p in (ROOT / "local_overrides").glob("*.yaml"))
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}


@pytest.fixture(scope="module")
def real() -> Build:
    result = build([ROOT / "processes", ROOT / "local_overrides"])
    assert not result.findings
    return result


def central_of(result: Build) -> CompiledProcess:
    compiled = result.central["bryt_upp"].compiled
    assert compiled is not None
    return compiled


def district_of(result: Build, name: str) -> CompiledProcess:
    compiled = result.districts[name].compiled
    assert compiled is not None
    return compiled


# --- golden DOT files ------------------------------------------------------------------------


def check_golden(name: str, source: str) -> None:
    path = GOLDEN / f"{name}.dot"
    if UPDATE or not path.exists():
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(source, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{path} did not exist and was written; check it and run again")
    assert source == path.read_text(encoding="utf-8"), f"{path} differs; UPDATE_GOLDEN=1 regenerates it"


def test_golden_central(real: Build) -> None:
    check_golden("central", process_diagram(central_of(real)).source)


@pytest.mark.parametrize("name", ["farsta", "jarva"])
def test_golden_district(real: Build, name: str) -> None:
    check_golden(name, process_diagram(district_of(real, name), central_of(real)).source)


@pytest.mark.parametrize("name", ["farsta", "jarva"])
def test_golden_diff(real: Build, name: str) -> None:
    check_golden(f"{name}_diff", diff_diagram(district_of(real, name), central_of(real)).source)


def test_the_source_is_deterministic(real: Build) -> None:
    again = build([ROOT / "processes", ROOT / "local_overrides"])
    assert process_diagram(district_of(again, "jarva"), central_of(again)).source == (
        process_diagram(district_of(real, "jarva"), central_of(real)).source
    )


# --- every district, every format ------------------------------------------------------------


def svg_nodes(data: bytes) -> dict[str, tuple[str, str]]:
    """Node id -> (class, its text) from an SVG Graphviz wrote."""
    root = ET.fromstring(data)
    nodes = {}
    for g in root.iter(f"{SVG}g"):
        if "node" not in (g.get("class") or "").split():
            continue
        title = g.find(f"{SVG}title")
        assert title is not None and title.text
        text = " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
        nodes[title.text] = (g.get("class") or "", text)
    return nodes


def svg_edges(data: bytes) -> dict[str, str]:
    root = ET.fromstring(data)
    edges = {}
    for g in root.iter(f"{SVG}g"):
        if "edge" in (g.get("class") or "").split():
            title = g.find(f"{SVG}title")
            assert title is not None and title.text
            edges[title.text] = g.get("class") or ""
    return edges


def test_there_are_eleven_districts() -> None:
    assert len(DISTRICTS) == 11


@pytest.mark.parametrize("name", DISTRICTS)
def test_every_district_renders_to_svg_png_and_pdf(real: Build, name: str) -> None:
    compiled, central = district_of(real, name), central_of(real)
    svg = render_process(compiled, central)
    nodes = svg_nodes(svg)
    for step_id, step in compiled.process.steps.items():
        assert step_id in nodes, step_id
        assert step.label in nodes[step_id][1], (step_id, nodes[step_id][1])
        assert "step" in nodes[step_id][0].split()
    unit = compiled.process.unit_for("intake_registration")
    assert unit is not None and unit.label in nodes["intake_registration"][1]
    for fmt, magic in MAGIC.items():
        data = render_process(compiled, central, format=fmt)  # type: ignore[arg-type]
        assert data.startswith(magic), fmt
        assert len(data) > 10_000
    diff = svg_nodes(render_process(compiled, central, view="diff"))
    assert set(compiled.process.local_steps) | set(compiled.process.changed_steps) <= set(diff)


def test_the_central_process_renders_with_roles(real: Build) -> None:
    central = central_of(real)
    nodes = svg_nodes(render(process_diagram(central)))
    assert set(central.process.steps) <= set(nodes)
    assert "Roll: Mottagning" in nodes["intake_registration"][1]
    assert "Tillagt lokalt" not in process_diagram(central).source  # no district marks in the legend


def test_labels_carry_unit_and_deadline_in_swedish(real: Build) -> None:
    nodes = svg_nodes(render_process(district_of(real, "farsta"), central_of(real)))
    _, text = nodes["child_preliminary_assessment"]
    assert "Barn och unga, utredning" in text
    assert "inom 10 dagar från att orosanmälan om barn inkom" in " ".join(text.split())
    _, text = nodes["child_protection_assessment"]
    assert "samma dag som orosanmälan om barn inkom" in " ".join(text.split())
    assert "★ Garanterad insats" in text


def test_a_process_diagram_is_left_to_right_in_phase_clusters_with_a_legend(real: Build) -> None:
    compiled = district_of(real, "jarva")
    source = process_diagram(compiled, central_of(real)).source
    assert "rankdir=LR" in source
    clusters = re.findall(r"subgraph cluster_(\w+) \{", source)
    assert clusters == [*compiled.process.phases, "legend"]
    for text in ["Teckenförklaring", "Tillagt lokalt", "Ändrat lokalt", "★ Garanterad insats", "Omdirigerad lokalt"]:
        assert text in source
    # gateways are diamonds; the condition labels are on the edges leaving them
    assert re.search(r"_gw_initial_safety_assessment \[label=\"○\".*shape=diamond", source)
    assert re.search(r"_gw_initial_safety_assessment -> risk_assessment \[.*label=<Våld i nära relation>", source)
    assert re.search(r"_join_needs_assessment -> needs_assessment", source)


# --- what the district changed ------------------------------------------------------------------


def test_jarvas_local_police_step_and_transition_carry_the_local_style(real: Build) -> None:
    svg = render_process(district_of(real, "jarva"), central_of(real))
    cls, text = svg_nodes(svg)["local_police_collaboration"]
    assert "local" in cls.split() and "Tillagt lokalt" in text
    assert "local" in svg_edges(svg)["_gw_initial_safety_assessment->local_police_collaboration"].split()
    cls, text = svg_nodes(svg)["initial_safety_assessment"]
    assert "changed" in cls.split()
    assert "ny väg till Samverkan med lokalpolisen" in " ".join(text.split())
    assert "local" not in svg_edges(svg)["_gw_initial_safety_assessment->risk_assessment"].split()
    source = process_diagram(district_of(real, "jarva"), central_of(real)).source
    line = next(x for x in source.splitlines() if x.strip().startswith("local_police_collaboration [label="))
    assert 'fillcolor="#ffe0b2"' in line and 'style="rounded,filled,dashed"' in line


def test_farstas_tightened_deadline_carries_the_changed_style(real: Build) -> None:
    svg = render_process(district_of(real, "farsta"), central_of(real))
    nodes = svg_nodes(svg)
    cls, text = nodes["child_preliminary_assessment"]
    assert "changed" in cls.split()
    assert "tidsfrist skärpt från 14 dagar till 10 dagar" in " ".join(text.split())
    assert not any(
        "changed" in c.split() or "local" in c.split() for s, (c, _) in nodes.items() if s != "child_preliminary_assessment"
    )
    assert "#fff59d" in ET.tostring(ET.fromstring(svg), encoding="unicode")


def test_the_diff_shows_the_changes_with_their_neighbours_only(real: Build) -> None:
    farsta, central = district_of(real, "farsta"), central_of(real)
    nodes = svg_nodes(render_process(farsta, central, view="diff"))
    steps = {s for s in nodes if not s.startswith("_")}
    changed_and_neighbours = {
        "child_preliminary_assessment",
        "child_protection_assessment",
        "child_investigation_start",
        "child_no_investigation",
    }
    noted = set(farsta.process.step_notes) | set(farsta.process.step_contacts)
    assert steps == changed_and_neighbours | noted
    assert "context" in nodes["child_protection_assessment"][0].split()
    assert "changed" in nodes["child_preliminary_assessment"][0].split()
    assert "noted" in nodes["stable_housing_support"][0].split()


OVERRIDE_REDIRECT = """\
add_steps:
  local_check:
    label: Lokal "kontroll" & <b>\\N</b>
    phase: intake
    role: intake
    next:
      advice:
steps:
  triage:
    redirect: {advice: local_check}
    deadline: {within: 2d, from: case_opened}
"""


def test_redirects_are_dashed_and_labels_are_escaped(
    district: Callable[[str], CompiledProcess], central: Callable[[], CompiledProcess]
) -> None:
    compiled, base = district(OVERRIDE_REDIRECT), central()
    source = process_diagram(compiled, base).source
    line = next(x for x in source.splitlines() if x.strip().startswith("triage -> local_check"))
    assert "style=dashed" in line and "redirect" in line
    svg = render(process_diagram(compiled, base))
    nodes = svg_nodes(svg)
    assert 'Lokal "kontroll" & <b>\\N</b>' in nodes["local_check"][1]
    assert "local" in nodes["local_check"][0].split()
    text = " ".join(nodes["triage"][1].split())
    assert "vägen till Rådgivning går via" in text and "ny tidsfrist: inom 2 dagar från att ärendet aktualiserat" in text


def test_a_removed_step_shows_in_the_diff(
    district: Callable[..., CompiledProcess], central: Callable[[str], CompiledProcess]
) -> None:
    old = """      advice: {when: "risk_level == 'high'"}\n"""
    assert old in MINI
    text = MINI.replace(old, old.replace("advice", "closed"))  # so that intake can take triage's place
    compiled, base = district("steps:\n  triage: {remove: true}\n", central=text), central(text)
    nodes = svg_nodes(render(diff_diagram(compiled, base)))
    assert "removed" in nodes["triage"][0].split() and "Borttaget lokalt" in nodes["triage"][1]
    assert "triage" not in svg_nodes(render(process_diagram(compiled, base)))


def test_a_district_without_changes_says_so(
    district: Callable[[str], CompiledProcess], central: Callable[[], CompiledProcess]
) -> None:
    nodes = svg_nodes(render(diff_diagram(district(""), central())))
    assert "Inga lokala ändringar" in nodes["_nothing"][1]


# --- a client's path ---------------------------------------------------------------------------


def jarva_case(today: dt.date = dt.date(2025, 3, 20)) -> CaseState:
    return CaseState(
        facts={
            "entry_channel": "police",
            "risk_level": "high",
            "age": 34,
            "needs": ["housing"],
            "children": [{"age": 7, "witnessed_violence": True, "in_school": True}],
            "report_received": "2025-03-01",
        },
        opened=dt.date(2025, 3, 1),
        today=today,
        completed=[
            {"step": "actualisation", "on": "2025-03-01"},
            {"step": "intake_registration", "on": "2025-03-01"},
            {"step": "initial_safety_assessment", "on": "2025-03-02"},
            {"step": "child_protection_assessment", "on": "2025-03-02", "child": 0},
        ],
    )


def test_the_case_path_shows_done_open_overdue_and_not_reached(real: Build) -> None:
    compiled = district_of(real, "jarva")
    state = jarva_case()
    decision = decide(compiled, state)
    svg = render_case(compiled, decision, state)
    nodes = svg_nodes(svg)

    def status(step: str) -> str:
        found = {"done", "open", "overdue", "waiting", "not-reached"} & set(nodes[step][0].split())
        assert len(found) == 1, (step, nodes[step][0])
        return found.pop()

    assert status("actualisation") == "done" and "Klart 2025-03-01" in nodes["actualisation"][1]
    assert (
        status("child_protection_assessment") == "done" and "Barn 1: Klart 2025-03-02" in nodes["child_protection_assessment"][1]
    )
    assert status("risk_assessment") == "open" and "Öppet nu" in nodes["risk_assessment"][1]
    assert status("local_police_collaboration") == "overdue"
    assert "FÖRSENAT, skulle vara klart 2025-03-03" in " ".join(nodes["local_police_collaboration"][1].split())
    assert status("child_investigation_start") == "overdue"
    assert status("closed_declined") == "not-reached"
    assert "pending" in nodes["advice_guidance"][0].split()
    # distinct styles, and every one of them in the legend
    source = case_diagram(compiled, decision, state).source
    fills = {}
    for step in ["actualisation", "risk_assessment", "local_police_collaboration", "closed_declined"]:
        line = next(x for x in source.splitlines() if x.strip().startswith(f"{step} [label="))
        fills[step] = re.search(r'fillcolor="?([^"\s]+)', line).group(1)  # type: ignore[union-attr]
    assert fills["local_police_collaboration"] == "#ffcdd2"  # red
    assert fills["actualisation"] == "#c8e6c9"  # green
    assert len(set(fills.values())) == 4
    assert "label=<<B>Teckenförklaring</B>>" in source
    for text in ["Klart", "Öppet nu", "Försenat", "Inte nått", "Väntar in andra grenar"]:
        assert f"label=<{text}>" in source


def test_a_join_that_waits_is_styled_as_waiting(real: Build) -> None:
    compiled = district_of(real, "farsta")
    steps = ["actualisation", "intake_registration", "initial_safety_assessment", "risk_assessment", "protection_need"]
    state = CaseState(
        facts={"entry_channel": "self_referral", "risk_level": "low", "age": 34, "consent_joint_handling": True},
        opened=dt.date(2025, 3, 1),
        today=dt.date(2025, 3, 10),
        completed=[{"step": s, "on": "2025-03-01"} for s in steps],
    )
    decision = decide(compiled, state)
    assert [w.step for w in decision.waiting] == ["needs_assessment"]
    nodes = svg_nodes(render(case_diagram(compiled, decision, state)))
    assert "waiting" in nodes["needs_assessment"][0].split()
    assert "Väntar på: Samtycke till samhandläggning" in " ".join(nodes["needs_assessment"][1].split())


def test_a_decision_for_another_version_is_refused(real: Build) -> None:
    state = jarva_case()
    decision = decide(district_of(real, "jarva"), state)
    with pytest.raises(ValueError, match="process version"):
        case_diagram(district_of(real, "farsta"), decision, state)


# --- the cache ----------------------------------------------------------------------------------


def test_the_cache_returns_the_same_bytes_without_rendering_again(real: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled, central = district_of(real, "farsta"), central_of(real)
    clear_render_cache()
    first = render_process(compiled, central)
    assert render_cache_info().misses == 1

    def no_render(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("rendered again")

    monkeypatch.setattr(render_module, "render", no_render)
    assert render_process(compiled, central) is first
    info = render_cache_info()
    assert (info.hits, info.misses, info.size) == (1, 1, 1)
    with pytest.raises(AssertionError, match="rendered again"):  # another format is another entry
        render_process(compiled, central, format="png")


def test_the_case_view_is_cached_by_the_decision(real: Build) -> None:
    compiled = district_of(real, "jarva")
    clear_render_cache()
    state = jarva_case()
    first = render_case(compiled, decide(compiled, state), state)
    assert render_case(compiled, decide(compiled, state), state) is first
    later = jarva_case(dt.date(2025, 3, 2))
    assert render_case(compiled, decide(compiled, later), later) != first
    assert render_cache_info().misses == 2


def test_the_cache_is_bounded() -> None:
    clear_render_cache()
    size = render_module.CACHE_SIZE
    assert size <= 64
    for i in range(size + 10):
        render_module._cached((str(i),), lambda i=i: str(i).encode())
    assert render_module._cached(("again",), lambda: b"new") == b"new"
    info = render_cache_info()
    assert (info.hits, info.misses, info.size, info.maxsize) == (0, size + 11, size, size)
    clear_render_cache()
    assert render_cache_info() == (0, 0, 0, size)


def test_unknown_formats_and_views_are_refused(real: Build) -> None:
    compiled = district_of(real, "farsta")
    with pytest.raises(ValueError, match="format"):
        render_process(compiled, format="gif")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="diff"):
        render_process(compiled, view="diff")


# --- the command line ---------------------------------------------------------------------------


def test_brytupp_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    runner = CliRunner()
    target = tmp_path / "jarva.pdf"
    result = runner.invoke(app, ["render", "jarva", "--view", "diff", "--format", "pdf", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"%PDF-")
    result = runner.invoke(app, ["render", "central"])
    assert result.exit_code == 0
    assert "actualisation" in svg_nodes(result.stdout_bytes)
    assert runner.invoke(app, ["render", "central", "--view", "diff"]).exit_code == 2
    assert runner.invoke(app, ["render", "atlantis"]).exit_code == 2


# --- two levels: the overview by phase and a phase's view (engine/overview.py) --------------------


def luminance(colour: str) -> float:
    named = {"white": "#ffffff", "black": "#000000", "none": "#ffffff"}
    h = named.get(colour, colour).lstrip("#")
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_on_fill(data: bytes) -> list[tuple[str, str, str]]:
    """(text, its colour, the fill behind it) for every text in the SVG's nodes, and for the edges'
    labels against the phase clusters' fill (the darkest they are drawn on)."""
    root = ET.fromstring(data)
    found = []
    for g in root.iter(f"{SVG}g"):
        classes = (g.get("class") or "").split()
        if "node" in classes:
            shape = next((e for e in g.iter() if e.tag in (f"{SVG}path", f"{SVG}polygon", f"{SVG}ellipse")), None)
            fill = shape.get("fill", "white") if shape is not None else "white"
        elif "edge" in classes:
            fill = "#f5f7fa"
        else:
            continue
        for t in g.iter(f"{SVG}text"):
            found.append((t.text or "", t.get("fill", "black"), "white" if fill == "none" else fill))
    return found


def overview_svg(real: Build, name: str) -> bytes:
    compiled = district_of(real, name) if name != "central" else central_of(real)
    return render(overview_diagram(compiled, None if name == "central" else central_of(real), "/ui/x/{phase}"))


def test_the_overview_has_one_node_per_phase_and_the_flows_between_phases(real: Build) -> None:
    jarva = district_of(real, "jarva")
    model = diagram_of(jarva)
    nodes = svg_nodes(overview_svg(real, "jarva"))
    phases = {n: text for n, (cls, text) in nodes.items() if "phase-node" in cls}
    assert sorted(phases) == sorted(f"phase_{p}" for p in model.phases)
    for phase in model.phases.values():
        assert f"{len(phase.steps)} steg" in phases[f"phase_{phase.id}"]
    flows = {e for e in svg_edges(overview_svg(real, "jarva")) if not e.startswith("_")}
    assert flows == {f"phase_{a}->phase_{b}" for a, b in model.phase_flows()}
    assert len(flows) < len(model.edges) / 3, "the overview draws far fewer lines than the process"


def test_the_overview_marks_the_phases_the_district_changed(real: Build) -> None:
    nodes = svg_nodes(overview_svg(real, "jarva"))
    # Järva adds its police step in the risk assessment and redirects the intake's safety assessment to it.
    assert "changed" in nodes["phase_risk"][0] and "1 tillagt" in nodes["phase_risk"][1]
    assert "changed" in nodes["phase_intake"][0] and "1 ändrat" in nodes["phase_intake"][1]
    assert "changed" not in nodes["phase_closure"][0] and "Lokalt" not in nodes["phase_closure"][1]
    central = svg_nodes(overview_svg(real, "central"))
    assert not any("changed" in cls for cls, _ in central.values())


def test_the_overview_links_each_phase_to_its_view(real: Build) -> None:
    data = overview_svg(real, "jarva").decode("utf-8")
    for phase in diagram_of(district_of(real, "jarva")).phases:
        assert f'xlink:href="/ui/x/{phase}"' in data


def test_a_phase_view_shows_its_steps_and_the_phases_around_it(real: Build) -> None:
    jarva = district_of(real, "jarva")
    model = diagram_of(jarva)
    nodes = svg_nodes(render(phase_diagram(jarva, "risk", central_of(real), None, "/ui/x/{phase}")))
    steps = {n for n, (cls, _) in nodes.items() if "step" in cls.split()}
    assert steps == set(model.phases["risk"].steps)
    local = [s for s in steps if model.nodes[s].origin == "local"]
    assert local and all("local" in nodes[s][0] for s in local), "Järva's police step keeps its mark"
    around = {n for n, (cls, _) in nodes.items() if "phase-link" in cls}
    into = {model.nodes[e.source].phase for e in model.edges if e.target in steps and e.source not in steps}
    out = {model.nodes[e.target].phase for e in model.edges if e.source in steps and e.target not in steps}
    assert around == {f"_in_{p}" for p in into} | {f"_out_{p}" for p in out}
    with pytest.raises(ValueError, match="no phase"):
        phase_diagram(jarva, "nowhere")


def test_figures_colour_the_steps_on_a_scale_and_are_written_in_them(real: Build) -> None:
    farsta = district_of(real, "farsta")
    steps = diagram_of(farsta).phases["intake"].steps
    values = {steps[0]: (1.0, "Median 1 dag"), steps[1]: (9.0, "Median 9 dagar"), steps[2]: (None, "")}
    worse = Figures("Mediantid i dagar", values)
    nodes = svg_nodes(render(phase_diagram(farsta, "intake", central_of(real), worse)))
    assert "Median 9 dagar" in nodes[steps[1]][1] and "Inget att visa" in nodes[steps[2]][1]
    assert (worse.colour(steps[0]), worse.colour(steps[1]), worse.colour(steps[2])) == (SCALE[0], SCALE[-1], None)
    better = Figures("Andel inom tidsfristen", values, higher_is_worse=False)
    assert (better.colour(steps[0]), better.colour(steps[1])) == (SCALE[-1], SCALE[0])
    assert [round(a, 1) for a, _ in worse.bins()] == [1.0, 2.6, 4.2, 5.8, 7.4]
    legend = " ".join(text for n, (_, text) in nodes.items() if n.startswith("_legend"))
    assert "Mediantid i dagar" in legend and "1–2,6" in legend and "Inget att visa" in legend
    data = render(phase_diagram(farsta, "intake", central_of(real), worse)).decode("utf-8")
    assert f'fill="{SCALE[-1]}"' in data and f'fill="{SCALE[0]}"' in data


@pytest.mark.parametrize("name", ["farsta", "jarva"])
def test_every_text_in_the_diagrams_has_at_least_4_5_to_1_contrast(real: Build, name: str) -> None:
    compiled, central = district_of(real, name), central_of(real)
    state = jarva_case()
    views = {
        "process": render(process_diagram(compiled, central)),
        "diff": render(diff_diagram(compiled, central)),
        "overview": overview_svg(real, name),
        "phase": render(phase_diagram(compiled, "intake", central, Figures("x", {"intake_registration": (1.0, "1")}))),
        "central": render(process_diagram(central)),
    }
    if name == "jarva":
        views["case"] = render(case_diagram(compiled, decide(compiled, state), state))
    for view, data in views.items():
        texts = text_on_fill(data)
        assert texts, view
        low = [(t, c, f, round(contrast(c, f), 2)) for t, c, f in texts if contrast(c, f) < 4.5]
        assert low == [], view


def test_the_overview_carries_figures_per_phase(real: Build) -> None:
    farsta = district_of(real, "farsta")
    figures = Figures("Försenade steg nu", {"intake": (4.0, "4 försenade nu"), "risk": (0.0, "0 försenade nu")})
    nodes = svg_nodes(render(overview_diagram(farsta, central_of(real), "", figures)))
    assert "4 försenade nu" in nodes["phase_intake"][1] and "Inget att visa" in nodes["phase_closure"][1]
    legend = " ".join(text for n, (_, text) in nodes.items() if n.startswith("_legend"))
    assert "Försenade steg nu" in legend and "3,2–4" in legend


def test_figures_of_one_value_have_one_fill() -> None:
    same = Figures("Försenade steg nu", {"a": (0.0, "0"), "b": (0.0, "0"), "c": (None, "")})
    assert same.bins() == [(0.0, 0.0)]
    assert (same.colour("a"), same.colour("b"), same.colour("c")) == (SCALE[0], SCALE[0], None)
