"""The implementers' command line: ``brytupp validate | show | diff | schema``.

Findings are printed one per line as ``file:line:col: key.path: message`` so
editors and CI logs can jump to them; everything else is a rich table.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .compile import CompiledProcess
from .pipeline import DEFAULT_PATHS, Build, build
from .schema import json_schema_text

app = typer.Typer(help="Bryt upp process engine: validate and inspect process files.", no_args_is_help=True)
# Piped output (CI logs, grep) gets wide tables instead of ellipses.
_WIDTH = None if sys.stdout.isatty() else 200
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)

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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
