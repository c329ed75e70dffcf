"""The implementers' command line: ``brytupp validate | show | diff | schema``.

Findings are printed one per line as ``file:line:col: key.path: message`` so
editors and CI logs can jump to them; everything else is a rich table.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .case import CaseState
from .compile import CompiledProcess
from .decide import Decision, decide
from .errors import FactsError, ProcessError
from .load import read_yaml, validate_data
from .pipeline import DEFAULT_PATHS, Build, build
from .scenario import load_scenario, mismatches, walk
from .schema import json_schema_text

app = typer.Typer(help="Bryt upp process engine: validate and inspect process files.", no_args_is_help=True)
# Piped output (CI logs, grep) gets wide tables instead of ellipses.
_WIDTH = None if sys.stdout.isatty() else 200
# No emoji codes: rich would print "bromma.yaml:100:3" as "bromma.yaml💯3".
out = Console(highlight=False, soft_wrap=True, width=_WIDTH, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

PathsArg = Annotated[list[Path] | None, typer.Argument(help="Process files or folders (default: processes local_overrides).")]
ProcessesOpt = Annotated[list[Path] | None, typer.Option("--path", "-p", help="Where to find the process files.")]


@app.command()
def validate(paths: PathsArg = None) -> None:
    """Load, merge, compile and validate; one line per finding, exit 1 if there is any."""
    result = build(paths or list(DEFAULT_PATHS))
    findings = result.findings
    for finding in findings:
        out.print(str(finding), markup=False)
    if findings:
        err.print(f"{len(findings)} finding(s)", markup=False)
        raise typer.Exit(1)
    if not result.central and not result.districts:
        err.print("no process files found", markup=False)
        raise typer.Exit(1)
    table = Table("process", "version", "steps", "local steps", "changed steps", "status", title="Validated")
    for name, built in [*result.central.items(), *result.districts.items()]:
        assert built.compiled is not None
        p = built.compiled.process
        table.add_row(name, built.compiled.version, str(len(p.steps)), str(len(p.local_steps)), str(len(p.changed_steps)), "ok")
    out.print(table)
    out.print(f"{len(result.central)} central process(es), {len(result.districts)} districts: no findings")


def _district(name: str, paths: list[Path] | None) -> tuple[CompiledProcess, CompiledProcess, Build]:
    result = build(paths or list(DEFAULT_PATHS))
    built = result.districts.get(name)
    if built is None:
        known = ", ".join(sorted(result.districts)) or "none"
        err.print(f"unknown district '{name}' (known: {known})", markup=False)
        raise typer.Exit(2)
    if built.compiled is None or built.findings:
        for finding in built.findings:
            out.print(str(finding), markup=False)
        raise typer.Exit(1)
    central = next(iter(result.central.values())).compiled
    assert central is not None
    return built.compiled, central, result


def _deadline(compiled: CompiledProcess, step_id: str) -> str:
    d = compiled.step(step_id).deadline
    if d is None:
        return ""
    event = "steget öppnas" if d.from_ == "step_opened" else compiled.process.events[d.from_].label.lower()
    return f"{d.within} från {event}"


@app.command()
def show(district: str, path: ProcessesOpt = None) -> None:
    """The effective process of DISTRICT: steps, responsible units, deadlines."""
    compiled, _, _ = _district(district, path)
    p = compiled.process
    assert p.district is not None
    out.print(f"[bold]{p.district.label}[/] ({p.district.id}), version {compiled.version}")
    for phase_id, phase in p.phases.items():
        table = Table("steg", "benämning", "ansvarig enhet", "tidsfrist", "garanterad", title=phase.label, title_justify="left")
        for step_id, step in p.steps.items():
            if step.phase != phase_id:
                continue
            unit = p.unit_for(step_id)
            who = f"{unit.label} ({step.role})" if unit else (step.role or "")
            marker = " [lokal]" if step_id in p.local_steps else " [ändrad]" if step_id in p.changed_steps else ""
            table.add_row(step_id + marker, step.label, who, _deadline(compiled, step_id), "ja" if step.guaranteed else "")
        if table.row_count:
            out.print(table)


@app.command()
def diff(district: str, path: ProcessesOpt = None) -> None:
    """What DISTRICT changes against the central process."""
    compiled, central, _ = _district(district, path)
    p, c = compiled.process, central.process
    assert p.district is not None
    out.print(f"[bold]{p.district.label}[/] against {c.process.label}")
    table = Table("roll", "enhet", title="Roller bundna till enheter", title_justify="left")
    for role, unit in p.bindings.items():
        table.add_row(f"{role} ({c.roles[role].label})", p.units[unit].label)
    out.print(table)
    changes = Table("steg", "ändring", title="Ändringar", title_justify="left")
    for step_id in p.local_steps:
        changes.add_row(step_id, f"lokalt steg: {p.steps[step_id].label}")
    for step_id in p.removed_steps:
        changes.add_row(step_id, "borttaget")
    for step_id, step in p.steps.items():
        base = c.steps.get(step_id)
        if base is None:
            continue
        if step.role != base.role:
            changes.add_row(step_id, f"roll {base.role} -> {step.role}")
        if step.deadline != base.deadline and step.deadline is not None:
            old = f"{base.deadline.within}" if base.deadline else "ingen"
            changes.add_row(step_id, f"tidsfrist {old} -> {step.deadline.within} (från {step.deadline.from_})")
        if step.guaranteed and not base.guaranteed:
            changes.add_row(step_id, "garanterad lokalt")
        for target in step.next:
            if target not in base.next:
                changes.add_row(step_id, f"ny övergång -> {target}")
    for step_id, old, new in p.redirects:
        changes.add_row(step_id, f"övergången till {old} går via {new}")
    for step_id, note in p.step_notes.items():
        changes.add_row(step_id, f"lokal anvisning: {note}")
    for step_id, contacts in p.step_contacts.items():
        changes.add_row(step_id, "kontakter: " + ", ".join(p.contacts[x].label for x in contacts))
    out.print(changes)


def _print_decision(decision: Decision, compiled: CompiledProcess) -> None:
    if decision.closed:
        out.print(f"[bold]Ärendet är avslutat[/]: {decision.closure_label}")
    table = Table("steg", "ansvarig enhet", "tidsfrist", "förfaller", "varför", title="Nästa steg", title_justify="left")
    for step in [*decision.next_steps, *decision.waiting]:
        name = step.label + (f" (barn {step.child + 1})" if step.child is not None else "")
        due = "" if step.due is None else step.due.isoformat() + (" [red]FÖRSENAD[/]" if step.overdue else "")
        if step.waiting_for:
            due = "väntar på " + ", ".join(step.waiting_for)
        why = "\n".join(f"{r.rule}: {r.condition or 'alltid'} ({r.source})" for r in step.reasons)
        unit = step.unit.label if step.unit else (step.role_label or "")
        deadline = f"{step.deadline.within} från {step.deadline.counts_from_label.lower()}" if step.deadline else ""
        table.add_row(f"{name}\n[dim]{step.step}[/]", unit, deadline, due, why)
    out.print(table)
    if decision.pending_guarantees:
        pending = Table(
            "insats", "ansvarig enhet", "varför", title="Garanterade insatser som inte erbjudits än", title_justify="left"
        )
        for g in decision.pending_guarantees:
            why = "\n".join(f"{r.rule}: {r.condition or 'alltid'}" for r in g.reasons)
            pending.add_row(g.intervention_label, g.unit.label if g.unit else "", why)
        out.print(pending)


def _read_state(path: Path, today: dt.date | None) -> CaseState:
    data, source = read_yaml(path)
    if isinstance(data, dict) and "facts" in data:
        data = {"opened": today or dt.date.today(), "today": today or dt.date.today(), **data}
        if today is not None:
            data["today"] = today
        return validate_data(CaseState, data, source)
    day = today or dt.date.today()
    return CaseState(facts=data if isinstance(data, dict) else {}, opened=day, today=day)


@contextmanager
def _reported(path: Path) -> Iterator[None]:
    """Bad input files and facts become one line each and exit code 1."""
    try:
        yield
    except ProcessError as exc:
        for finding in exc.findings:
            out.print(str(finding), markup=False)
        raise typer.Exit(1) from exc
    except FactsError as exc:
        for key, message in exc.problems.items():
            # The case file is the user's own: an unknown key can be named where it is written.
            for name, close in exc.unknown.get(key, []):
                out.print(f"{path}: {key}.{name}: unknown fact{f'; did you mean {close!r}?' if close else ''}", markup=False)
            if key not in exc.unknown:
                out.print(f"{path}: {key}: {message}", markup=False)
        raise typer.Exit(1) from exc


TodayOpt = Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Decide as of this date (default: today).")]


@app.command("next")
def next_steps(
    district: str,
    facts: Annotated[
        Path, typer.Option("--facts", help="YAML/JSON: the facts, or a case state {facts, opened, today, completed}.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the Decision document the API returns.")] = False,
    today: TodayOpt = None,
    path: ProcessesOpt = None,
) -> None:
    """What happens next for one client in DISTRICT, who does it, by when and why."""
    compiled, _, _ = _district(district, path)
    with _reported(facts):
        state = _read_state(facts, today.date() if today else None)
        decision = decide(compiled, state)
    if as_json:
        out.print(decision.model_dump_json(indent=2), markup=False)
    else:
        _print_decision(decision, compiled)


@app.command()
def simulate(
    district: str,
    scenario: Path,
    check: Annotated[
        bool, typer.Option(help="Compare each decision with the story's expect: and exit 1 on a difference.")
    ] = False,
    path: ProcessesOpt = None,
) -> None:
    """Walk a client story (SCENARIO) through DISTRICT's process and print each decision."""
    compiled, _, _ = _district(district, path)
    with _reported(scenario):
        story = load_scenario(scenario)
        failures = 0
        out.print(f"[bold]{story.story}[/]")
        for step, decision in walk(compiled, story):
            done = ", ".join(step.completed) or "inget"
            out.print(f"\n[bold]{step.on}[/] klart: {done}")
            _print_decision(decision, compiled)
            if check and step.expect is not None:
                for problem in mismatches(decision, step.expect):
                    failures += 1
                    out.print(f"{scenario}: {step.on}: {problem}", markup=False)
    if failures:
        raise typer.Exit(1)


@app.command()
def schema(
    write: Annotated[Path | None, typer.Option(help="Write the schema to this file instead of printing it.")] = None,
) -> None:
    """Print (or write) the JSON Schema of process and override files."""
    text = json_schema_text()
    if write is None:
        out.print(text, markup=False, end="")
    else:
        write.write_text(text, encoding="utf-8")
        err.print(f"wrote {write}", markup=False)


@app.command()
def equality(
    as_json: Annotated[bool, typer.Option("--json", help="Print the matrix as JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the matrix as CSV (one row per unit in a cell).")] = False,
    path: ProcessesOpt = None,
) -> None:
    """Likställighet: every district × every guaranteed intervention, the unit that delivers it and what differs."""
    from .equality import equality_from_build, equality_tables

    if as_json and as_csv:
        err.print("--json or --csv, not both", markup=False)
        raise typer.Exit(2)
    result = build(path or list(DEFAULT_PATHS))
    for name, built in sorted(result.districts.items()):
        if not built.ok:
            err.print(f"{name}: left out, {len(built.findings)} finding(s) (brytupp validate)", markup=False)
    try:
        matrix = equality_from_build(result)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(matrix.model_dump_json(indent=2))
    elif as_csv:
        typer.echo(matrix.to_csv(), nl=False)
    else:
        for table in equality_tables(matrix):
            if table.row_count:
                out.print(table)


@app.command("export-bpmn")
def export_bpmn_command(
    district: str,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of printing.")] = None,
    path: ProcessesOpt = None,
) -> None:
    """DISTRICT's process as BPMN 2.0 XML: a lane per unit, a task per step, gateways, a diagram."""
    from .bpmn import export_bpmn

    compiled, _, _ = _district(district, path)
    xml = export_bpmn(compiled)
    if output is None:
        typer.echo(xml, nl=False)
    else:
        output.write_text(xml, encoding="utf-8")
        err.print(f"wrote {output}", markup=False)


class RenderView(StrEnum):
    process = "process"
    diff = "diff"


class RenderFormatOpt(StrEnum):
    svg = "svg"
    png = "png"
    pdf = "pdf"


@app.command("render")
def render_command(
    district: Annotated[str, typer.Argument(help="A district, or 'central' for the city-wide process.")],
    view: Annotated[RenderView, typer.Option(help="process: the whole process; diff: what differs from the city's.")] = (
        RenderView.process
    ),
    format: Annotated[RenderFormatOpt, typer.Option("--format", "-f", help="Output format.")] = RenderFormatOpt.svg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    path: ProcessesOpt = None,
) -> None:
    """Draw DISTRICT's process (or 'central') with Graphviz: SVG, PNG or PDF."""
    from .render import render_process

    if district == "central":
        if view is RenderView.diff:
            err.print("--view diff compares a district with the central process; name a district", markup=False)
            raise typer.Exit(2)
        result = build(path or list(DEFAULT_PATHS))
        built = next(iter(result.central.values()), None)
        if built is None or built.compiled is None or built.findings:
            for finding in built.findings if built else []:
                out.print(str(finding), markup=False)
            err.print("no valid central process", markup=False)
            raise typer.Exit(1)
        compiled, central = built.compiled, None
    else:
        compiled, central_compiled, _ = _district(district, path)
        central = central_compiled
    if output is None and format is not RenderFormatOpt.svg and sys.stdout.isatty():
        err.print(f"{format.value} is binary: give -o FILE or redirect stdout", markup=False)
        raise typer.Exit(2)
    data = render_process(compiled, central, view=view.value, format=format.value)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)
        err.print(f"wrote {output}", markup=False)


def main() -> None:
    """The engine's commands alone; the ``brytupp`` script (api/cli.py) adds the service's."""
    app()


if __name__ == "__main__":
    main()
