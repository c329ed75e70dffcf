"""The implementers' command line, run as they run it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli import app
from tests.conftest import ROOT

runner = CliRunner()
FINDING = re.compile(r"^[^:\s]+\.yaml:\d+:\d+: [\w.\[\]()]+: .+$")


def run(*args: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, list(args))
    return result.exit_code, [line for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the real process files, as an implementer's checkout."""
    shutil.copytree(ROOT / "processes", tmp_path / "processes")
    shutil.copytree(ROOT / "local_overrides", tmp_path / "local_overrides")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def break_farsta(workspace: Path, old: str, new: str) -> Path:
    path = workspace / "local_overrides" / "farsta.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_validate_reports_eleven_clean_districts(workspace: Path) -> None:
    code, lines = run("validate", "processes", "local_overrides")
    assert code == 0
    assert lines[-1] == "1 central process(es), 11 districts: no findings"


def test_a_finding_on_line_100_keeps_its_colons(workspace: Path) -> None:
    """Rich reads ":100:" as an emoji code; a finding's place must print as file:line:col."""
    path = workspace / "local_overrides" / "farsta.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("roles:"))
    padded = lines[:at] + ["#\n"] * (98 - at) + lines[at:]
    path.write_text("".join(padded).replace("  intake: mottagningsenheten\n", "  intake: mottagningsenhetn\n", 1), encoding="utf-8")
    code, out = run("validate", "processes", "local_overrides")
    assert code == 1
    assert any(line.startswith("local_overrides/farsta.yaml:100:") for line in out), out


def test_validate_without_arguments_uses_the_project_folders(workspace: Path) -> None:
    assert run("validate")[0] == 0


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "      within: 10d\n",
            "      within: 20d\n",
            r"local_overrides/farsta\.yaml:118:7: steps\.child_preliminary_assessment\.deadline\.within: loosens the deadline from 14d to 20d",
        ),
        (
            "  stable_housing_support:\n    note:",
            "  stable_housing_support:\n    remove: true\n    note:",
            r"local_overrides/farsta\.yaml:126:5: steps\.stable_housing_support\.remove: 'stable_housing_support' is guaranteed by the central process and cannot be removed \(see processes/bryt_upp\.yaml:\d+:3\)",
        ),
        (
            "  intake: mottagningsenheten\n",
            "  intake: mottagningsenhet\n",
            r"local_overrides/farsta\.yaml:\d+:3: roles\.intake: unknown unit 'mottagningsenhet' .*did you mean 'mottagningsenheten'\?",
        ),
        (
            "district: farsta\n",
            "district: farsta\n  oops: [\n",
            r"local_overrides/farsta\.yaml:\d+:\d+: \(document\): YAML syntax: ",
        ),
    ],
    ids=["loosened_deadline", "removed_guaranteed_step", "unknown_unit", "yaml_syntax"],
)
def test_a_broken_district_copy_exits_1_with_one_line(workspace: Path, old: str, new: str, expected: str) -> None:
    break_farsta(workspace, old, new)
    code, lines = run("validate", "processes", "local_overrides")
    assert code == 1
    assert len(lines) == 1, lines
    assert FINDING.match(lines[0]) and re.match(expected, lines[0]), lines[0]


def test_a_district_file_alone_is_checked_against_the_central_process(workspace: Path) -> None:
    path = break_farsta(workspace, "      within: 10d\n", "      within: 15d\n")
    copy = workspace / "farsta_copy.yaml"
    shutil.copy(path, copy)
    code, lines = run("validate", str(copy.name))
    assert code == 1 and lines[0].startswith("farsta_copy.yaml:118:7: ")


def test_show_lists_steps_with_units_and_deadlines(workspace: Path) -> None:
    code, lines = run("show", "farsta")
    text = "\n".join(lines)
    assert code == 0
    assert "Farsta stadsdelsförvaltning" in text and "child_preliminary_assessment" in text and "10d" in text


def test_show_of_an_unknown_district_exits_2(workspace: Path) -> None:
    code, _ = run("show", "farstaa")
    assert code == 2


def test_diff_shows_what_the_district_changed(workspace: Path) -> None:
    code, lines = run("diff", "farsta")
    text = "\n".join(lines)
    assert code == 0
    assert "tidsfrist 14d -> 10d" in text


def test_schema_prints_the_committed_schema(workspace: Path) -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == (ROOT / "processes" / "process.schema.json").read_text(encoding="utf-8")


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "brytupp"
    result = subprocess.run([str(script), "validate"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


CASE = """\
opened: 2025-03-01
today: 2025-03-04
facts:
  age: 34
  entry_channel: police
  risk_level: high
  report_received: 2025-03-01
  children: [{age: 8, witnessed_violence: true}]
completed:
  - {step: actualisation, on: 2025-03-01}
  - {step: intake_registration, on: 2025-03-01}
  - {step: initial_safety_assessment, on: 2025-03-02}
"""


def test_next_prints_the_decision_document_as_json(workspace: Path) -> None:
    import json

    (workspace / "case.yaml").write_text(CASE, encoding="utf-8")
    result = runner.invoke(app, ["next", "jarva", "--facts", "case.yaml", "--json"])
    assert result.exit_code == 0, result.stdout
    decision = json.loads(result.stdout)
    steps = {(s["step"], s["child"]): s for s in decision["next_steps"]}
    child = steps[("child_protection_assessment", 0)]
    assert (child["due"], child["overdue"]) == ("2025-03-01", True)
    police = steps[("local_police_collaboration", None)]
    assert police["reasons"][0]["origin"] == "district"
    assert police["reasons"][0]["source"].startswith("local_overrides/jarva.yaml:")


def test_next_names_the_bad_fact(workspace: Path) -> None:
    (workspace / "case.yaml").write_text(CASE.replace("risk_level: high", "risk_levle: high"), encoding="utf-8")
    code, lines = run("next", "jarva", "--facts", "case.yaml")
    assert code == 1
    assert lines == ["case.yaml: facts.risk_levle: unknown fact; did you mean 'risk_level'?"]


def test_simulate_checks_a_story(workspace: Path) -> None:
    story = workspace / "story.yaml"
    story.write_text(
        "district: farsta\nstory: Ny kontakt.\nopened: 2025-03-03\nfacts: {age: 40}\nsteps:\n"
        "  - on: 2025-03-03\n    expect: {next: [actualisation], units: {actualisation: mottagningsenheten}}\n"
        "  - on: 2025-03-04\n    completed: [actualisation]\n    expect: {next: [risk_assessment]}\n",
        encoding="utf-8",
    )
    code, lines = run("simulate", "farsta", story.name, "--check")
    assert code == 1
    assert lines[-1] == "story.yaml: 2025-03-04: next: expected ['risk_assessment'], got ['intake_registration']"
