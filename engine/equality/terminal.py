"""The equality matrix in the terminal (``brytupp equality``): rich tables with Swedish headers."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from .model import ASPECT_LABELS, KIND_LABELS, Cell, Column, EqualityMatrix


def equality_tables(matrix: EqualityMatrix) -> list[Table]:
    """Rich tables with Swedish headers: the matrix, the local steps, the tightened deadlines."""
    table = Table(
        "Stadsdel",
        *(c.label + ("" if c.central else " (lokal garanti)") for c in matrix.columns),
        title=f"Likställighet: {matrix.process_label}, garanterade insatser per stadsdel",
        title_justify="left",
        show_lines=True,
    )
    for column in table.columns:
        column.overflow = "fold"  # ids and long Swedish words wrap instead of being cut off
    for row in matrix.districts:
        table.add_row(
            Text(row.label), *(_cell_text(cell, column) for cell, column in zip(row.cells, matrix.columns, strict=True))
        )
    majority = [Text(_majority_text(c), style="dim") for c in matrix.columns]
    table.add_row(Text("Flertalet", style="bold"), *majority)
    local = Table(
        "Stadsdel", "Steg", "Benämning", "Ansvarig enhet", "Tidsfrist", "Efter", title="Lokala steg", title_justify="left"
    )
    for row in matrix.districts:
        for step in row.local_steps:
            deadline = f"{step.deadline.within} från {step.deadline.counts_from_label.lower()}" if step.deadline else ""
            local.add_row(row.label, step.step, step.label, step.unit_label or step.role or "", deadline, ", ".join(step.after))
    tightened = Table(
        "Stadsdel",
        "Steg",
        "Benämning",
        "Stadens tidsfrist",
        "Stadsdelens",
        "Räknas från",
        title="Skärpta tidsfrister",
        title_justify="left",
    )
    for row in matrix.districts:
        for t in row.tightened_deadlines:
            tightened.add_row(row.label, t.step, t.label, t.central or "ingen", t.local, t.counts_from_label)
    return [table, local, tightened]


def _cell_text(cell: Cell, column: Column) -> Text:
    text = Text()
    if not cell.units:
        text.append("saknas", style="bold red")
    for n, unit in enumerate(cell.units):
        if n:
            text.append("\n")
        text.append(unit.label, style="yellow" if cell.differs else "")
        text.append(f" ({unit.id or unit.role})", style="dim")
    departs = [ASPECT_LABELS[a] for a in cell.differs if a not in column.varies]
    if departs:
        text.append("\n≠ flertalet: " + ", ".join(departs), style="bold yellow")
    if any(a in column.varies for a in cell.differs):
        varies = ", ".join(ASPECT_LABELS[a] for a in cell.differs if a in column.varies)
        text.append(f"\nolika i stadsdelarna, ingen gemensam: {varies}", style="bold yellow")
    if cell.tightened:
        text.append("\nskärpt tidsfrist: " + ", ".join(cell.tightened), style="bold cyan")
    if cell.local:
        text.append("\nlokalt steg: " + ", ".join(cell.local), style="bold magenta")
    if cell.noted:
        text.append("\nlokal anvisning: " + ", ".join(cell.noted), style="magenta")
    if not cell.guaranteed and cell.steps:
        text.append("\ninte garanterad här", style="bold red")
    return text


def _majority_text(column: Column) -> str:
    shown = {a: [KIND_LABELS.get(v, v) for v in vs] if a == "kind" else vs for a, vs in column.majority.items() if a != "role"}
    parts = [f"{ASPECT_LABELS[a]}: {', '.join(v) or '–'}" for a, v in shown.items()]
    parts += [f"{ASPECT_LABELS[a]}: ingen gemensam" for a in column.varies if a != "role"]
    return "\n".join(parts) or "ingen majoritet"
