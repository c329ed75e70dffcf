"""Likställighet: the equality matrix, districts × guaranteed interventions.

Input: the compiled central process and the compiled districts.  Output: an
``EqualityMatrix`` (pydantic, JSON-able; ``to_csv()`` / ``from_csv()``) that
shows, for every district and every guaranteed intervention, which unit
delivers it, and flags where a district departs from the others.

Columns are the interventions of the steps the central process guarantees, in
the order of those steps, followed by any intervention only a district
guarantees (``Column.central`` is false for those).  A cell lists the
district's steps that offer the intervention (central or local ones) and, per
responsible unit, the unit (id, Swedish label, kind) and the role bound to it.

What "differs from the majority" means: a cell is compared with the other
districts on three aspects, each on its own:

* ``role``: the roles responsible for the cell's steps (a district that gives a
  step to another role differs);
* ``kind``: the kinds of the bound units (``district``, ``rvc``, ``city``,
  ``region``, ``external``), e.g. the city's honour competence centre against
  a district's own team;
* ``unit``: the bound units themselves.  Unit ids are each district's own, but
  the city's files use one vocabulary for them (``relationsvaldsteamet``,
  ``barn_och_unga``, ``ekonomiskt_bistand``, …), so the same id is the same
  kind of unit; the labels are not compared, they vary in wording
  ("Barn och unga, utredning", "Enheten för barn och unga") for the same unit.
  An RVC counts as the one unit ``rvc``: each district is served by its own RVC
  by design, that is not a difference.

An aspect has a majority when one value (the set of roles, kinds or units of
the cell) is held by more than half of the districts; a cell is flagged on the
aspects where it departs from a majority.  Where no value has a majority (the
districts organise it many ways) nothing is flagged on that aspect: every
district would otherwise "differ".

Also flagged, per district: its local steps (``add_steps``), and its tightened
deadlines: a central step whose deadline the district made shorter (same
event, a duration that can never end later and can end sooner), or given a
deadline the central step does not have.  In a cell, ``tightened`` and
``local`` name the cell's steps among those.

The derived parts (majorities, ``differs``, a cell's ``tightened`` and
``local``) are computed from the rest in one place, ``_assemble``, so a matrix
read back from its CSV is equal to the one written.

``equality_changes(central, live, draft)`` says which cells of a district's
row a draft of its file changes (``CellChange``: the intervention, the aspect,
before and after in Swedish), for the review of the draft before it goes live.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, Field
from rich.table import Table
from rich.text import Text

from .compare import duration_sv
from .compile import CompiledProcess
from .pipeline import Build
from .schema import STEP_OPENED, Deadline, EffectiveProcess, duration_is_longer

Aspect = Literal["role", "kind", "unit"]
ASPECTS: tuple[Aspect, ...] = ("role", "kind", "unit")
ASPECT_LABELS: dict[Aspect, str] = {"role": "roll", "kind": "enhetstyp", "unit": "enhet"}
RVC = "rvc"
STEP_OPENED_LABEL = "Steget öppnas"


class DeadlineText(BaseModel):
    within: str
    counts_from: str
    counts_from_label: str


class CellUnit(BaseModel):
    """One unit responsible for (some of) a cell's steps."""

    id: str | None = Field(description="The district's unit id; None when the role is not bound.")
    label: str
    kind: str
    role: str
    role_label: str
    steps: list[str] = Field(description="The cell's steps this unit is responsible for.")


class Cell(BaseModel):
    district: str
    intervention: str
    steps: list[str] = Field(
        description="The district's steps that offer the intervention: grouped by unit (as in `units`), in process order."
    )
    guaranteed: bool = Field(description="Whether the district guarantees it (one of the steps is guaranteed).")
    units: list[CellUnit]
    differs: list[Aspect] = Field(default_factory=list, description="Aspects where the cell departs from the majority.")
    tightened: list[str] = Field(default_factory=list, description="The cell's steps whose deadline the district tightened.")
    local: list[str] = Field(default_factory=list, description="The cell's steps the district added.")

    @property
    def flagged(self) -> bool:
        return bool(self.differs or self.tightened or self.local)


class Column(BaseModel):
    intervention: str
    label: str
    central: bool = Field(description="Guaranteed by the central process (false: only some district guarantees it).")
    majority: dict[Aspect, list[str]] = Field(
        default_factory=dict, description="Per aspect, the value more than half of the districts share."
    )


class LocalStep(BaseModel):
    step: str
    label: str
    phase: str
    role: str | None
    unit: str | None
    unit_label: str | None
    unit_kind: str | None
    intervention: str | None
    guaranteed: bool
    deadline: DeadlineText | None
    after: list[str] = Field(description="The steps that lead to it.")


class TightenedDeadline(BaseModel):
    step: str
    label: str
    central: str | None = Field(description="The central deadline, None when the central step has none.")
    local: str
    counts_from: str
    counts_from_label: str


class DistrictRow(BaseModel):
    district: str
    label: str
    version: str
    cells: list[Cell] = Field(description="One per column, in column order.")
    local_steps: list[LocalStep] = Field(default_factory=list)
    tightened_deadlines: list[TightenedDeadline] = Field(default_factory=list)


class EqualityMatrix(BaseModel):
    process: str = Field(description="Id of the central process.")
    process_label: str
    version: str = Field(description="Version of the central process.")
    columns: list[Column]
    districts: list[DistrictRow]

    def cell(self, district: str, intervention: str) -> Cell:
        for row in self.districts:
            if row.district == district:
                for cell in row.cells:
                    if cell.intervention == intervention:
                        return cell
        raise KeyError((district, intervention))

    def row(self, district: str) -> DistrictRow:
        for row in self.districts:
            if row.district == district:
                return row
        raise KeyError(district)

    def to_csv(self) -> str:
        """One row per record, ``typ`` says which: ``stad`` (first: the central process, its id, label
        and version in the ``stadsdel`` columns), ``insats`` (a unit in a cell; an empty cell is one
        row without a unit), ``lokalt_steg``, ``tidsfrist`` (a tightened deadline).  Lists are
        space separated; ``flaggor`` is derived and ignored when read back."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerow({"typ": "stad", "stadsdel": self.process, "stadsdel_namn": self.process_label, "version": self.version})
        columns = {c.intervention: c for c in self.columns}
        for row in self.districts:
            base = {"stadsdel": row.district, "stadsdel_namn": row.label, "version": row.version}
            for cell in row.cells:
                column = columns[cell.intervention]
                common = {
                    **base,
                    "typ": "insats",
                    "insats": cell.intervention,
                    "insats_namn": column.label,
                    "central_garanti": _yes(column.central),
                    "garanterad": _yes(cell.guaranteed),
                    "flaggor": " ".join(_flags(cell)),
                }
                for unit in cell.units:
                    writer.writerow(
                        {
                            **common,
                            "steg": " ".join(unit.steps),
                            "roll": unit.role,
                            "roll_namn": unit.role_label,
                            "enhet": unit.id or "",
                            "enhet_namn": unit.label,
                            "enhetstyp": unit.kind,
                        }
                    )
                unitless = [s for s in cell.steps if not any(s in u.steps for u in cell.units)]
                if unitless or not cell.units:  # an empty cell is still a row
                    writer.writerow({**common, "steg": " ".join(unitless)})
            for local in row.local_steps:
                writer.writerow(
                    {
                        **base,
                        "typ": "lokalt_steg",
                        "steg": local.step,
                        "steg_namn": local.label,
                        "fas": local.phase,
                        "roll": local.role or "",
                        "enhet": local.unit or "",
                        "enhet_namn": local.unit_label or "",
                        "enhetstyp": local.unit_kind or "",
                        "insats": local.intervention or "",
                        "garanterad": _yes(local.guaranteed),
                        "tidsfrist": local.deadline.within if local.deadline else "",
                        "räknas_från": local.deadline.counts_from if local.deadline else "",
                        "räknas_från_namn": local.deadline.counts_from_label if local.deadline else "",
                        "föregående_steg": " ".join(local.after),
                    }
                )
            for tight in row.tightened_deadlines:
                writer.writerow(
                    {
                        **base,
                        "typ": "tidsfrist",
                        "steg": tight.step,
                        "steg_namn": tight.label,
                        "central_tidsfrist": tight.central or "",
                        "tidsfrist": tight.local,
                        "räknas_från": tight.counts_from,
                        "räknas_från_namn": tight.counts_from_label,
                    }
                )
        return buffer.getvalue()

    @classmethod
    def from_csv(cls, text: str) -> EqualityMatrix:
        """Read back what ``to_csv`` wrote."""
        columns: dict[str, Column] = {}
        rows: dict[str, DistrictRow] = {}
        cells: dict[tuple[str, str], Cell] = {}
        process: tuple[str, str, str] | None = None
        for record in csv.DictReader(io.StringIO(text)):
            if record["typ"] == "stad":
                process = (record["stadsdel"], record["stadsdel_namn"], record["version"])
                continue
            district = record["stadsdel"]
            row = rows.setdefault(
                district, DistrictRow(district=district, label=record["stadsdel_namn"], version=record["version"], cells=[])
            )
            kind = record["typ"]
            if kind == "insats":
                intervention = record["insats"]
                columns.setdefault(
                    intervention,
                    Column(intervention=intervention, label=record["insats_namn"], central=record["central_garanti"] == "ja"),
                )
                cell = cells.get((district, intervention))
                if cell is None:
                    cell = Cell(
                        district=district, intervention=intervention, steps=[], guaranteed=record["garanterad"] == "ja", units=[]
                    )
                    cells[district, intervention] = cell
                    row.cells.append(cell)
                steps = record["steg"].split()
                cell.steps.extend(s for s in steps if s not in cell.steps)
                if record["enhet_namn"] or record["roll"]:
                    cell.units.append(
                        CellUnit(
                            id=record["enhet"] or None,
                            label=record["enhet_namn"],
                            kind=record["enhetstyp"],
                            role=record["roll"],
                            role_label=record["roll_namn"],
                            steps=steps,
                        )
                    )
            elif kind == "lokalt_steg":
                row.local_steps.append(
                    LocalStep(
                        step=record["steg"],
                        label=record["steg_namn"],
                        phase=record["fas"],
                        role=record["roll"] or None,
                        unit=record["enhet"] or None,
                        unit_label=record["enhet_namn"] or None,
                        unit_kind=record["enhetstyp"] or None,
                        intervention=record["insats"] or None,
                        guaranteed=record["garanterad"] == "ja",
                        deadline=DeadlineText(
                            within=record["tidsfrist"],
                            counts_from=record["räknas_från"],
                            counts_from_label=record["räknas_från_namn"],
                        )
                        if record["tidsfrist"]
                        else None,
                        after=record["föregående_steg"].split(),
                    )
                )
            elif kind == "tidsfrist":
                row.tightened_deadlines.append(
                    TightenedDeadline(
                        step=record["steg"],
                        label=record["steg_namn"],
                        central=record["central_tidsfrist"] or None,
                        local=record["tidsfrist"],
                        counts_from=record["räknas_från"],
                        counts_from_label=record["räknas_från_namn"],
                    )
                )
            else:
                raise ValueError(f"unknown record type {kind!r} in the equality CSV")
        if process is None:
            raise ValueError("the equality CSV has no 'stad' row naming the central process")
        return _assemble(*process, list(columns.values()), list(rows.values()))


CSV_COLUMNS = [
    "typ",
    "stadsdel",
    "stadsdel_namn",
    "version",
    "insats",
    "insats_namn",
    "central_garanti",
    "garanterad",
    "steg",
    "steg_namn",
    "fas",
    "roll",
    "roll_namn",
    "enhet",
    "enhet_namn",
    "enhetstyp",
    "central_tidsfrist",
    "tidsfrist",
    "räknas_från",
    "räknas_från_namn",
    "föregående_steg",
    "flaggor",
]


def _yes(value: bool) -> str:
    return "ja" if value else "nej"


def _flags(cell: Cell) -> list[str]:
    return [
        *(f"avviker_{ASPECT_LABELS[a]}" for a in cell.differs),
        *(["skärpt_tidsfrist"] if cell.tightened else []),
        *(["lokalt_steg"] if cell.local else []),
    ]


# --- building ------------------------------------------------------------------------------


def equality_matrix(central: CompiledProcess, districts: Iterable[CompiledProcess]) -> EqualityMatrix:
    """The matrix of ``districts`` (sorted by id) against ``central``."""
    c = central.process
    compiled = sorted(districts, key=lambda d: d.name)
    columns = _columns(central, compiled)
    rows = [_row(d, c, [col.intervention for col in columns]) for d in compiled]
    return _assemble(c.process.id, c.process.label, central.version, columns, rows)


def _columns(central: CompiledProcess, districts: Iterable[CompiledProcess]) -> list[Column]:
    """The interventions the central process guarantees, in step order, then those only a district guarantees."""
    columns: dict[str, Column] = {}
    for process, is_central in [(central.process, True), *((d.process, False) for d in districts)]:
        for step in process.steps.values():
            if step.guaranteed and step.intervention is not None and step.intervention not in columns:
                label = process.interventions[step.intervention].label
                columns[step.intervention] = Column(intervention=step.intervention, label=label, central=is_central)
    return list(columns.values())


def equality_from_build(result: Build, process: str | None = None) -> EqualityMatrix:
    """The matrix of every district in ``result`` that built without findings, against its central
    process (``process``, or the one the first such district extends)."""
    districts = [b.compiled for b in result.districts.values() if b.ok and b.compiled is not None]
    if process is None:
        if not districts and not result.central:
            raise ValueError("no processes to compare")
        process = districts[0].process.process.id if districts else next(iter(result.central))
    central = result.central.get(process)
    if central is None or central.compiled is None:
        raise ValueError(f"central process '{process}' did not build")
    return equality_matrix(central.compiled, [d for d in districts if d.process.process.id == process])


# --- a draft against the live version ---------------------------------------------------------

CellAspect = Literal["offered", "guaranteed", "unit", "kind", "role", "deadline", "local"]
CELL_ASPECT_LABELS: dict[CellAspect, str] = {
    "offered": "erbjuds i",
    "guaranteed": "garanti",
    "unit": "enhet",
    "kind": "enhetstyp",
    "role": "roll",
    "deadline": "skärpt tidsfrist",
    "local": "lokala steg",
}


class CellChange(BaseModel):
    """One aspect of one cell of the district's row that a draft changes."""

    district: str
    intervention: str
    intervention_label: str
    aspect: CellAspect
    aspect_label: str
    before: str = Field(description="The aspect in the live version, in Swedish.")
    after: str = Field(description="The aspect in the draft, in Swedish.")
    text: str = Field(description="The change as one Swedish sentence.")


def equality_changes(central: CompiledProcess, base: CompiledProcess, new: CompiledProcess) -> list[CellChange]:
    """The cells of the district's row in the equality matrix that ``new`` (a draft) changes against
    ``base`` (its live version), aspect by aspect, in column order.

    The aspects are what a cell shows: the steps that offer the intervention, whether it is
    guaranteed, the units, their kinds and roles, the tightened deadlines among its steps, its local
    steps.  The row is the matrix's own (``_row``), so what is reported is what the matrix will show;
    the majority flags are left out, they depend on the other districts, not on the draft.
    """
    c = central.process
    columns = _columns(central, [base, new])
    interventions = [col.intervention for col in columns]
    rows = [(_row(compiled, c, interventions), compiled.process) for compiled in (base, new)]
    changes = []
    for n, column in enumerate(columns):
        (before, after) = (_aspects(row.cells[n], row, p) for row, p in rows)
        for aspect, text in after.items():
            if before[aspect] == text:
                continue
            label = CELL_ASPECT_LABELS[aspect]
            sentence = f"{column.label}, {label}: från {before[aspect]} till {text}."
            changes.append(
                CellChange(
                    district=new.name,
                    intervention=column.intervention,
                    intervention_label=column.label,
                    aspect=aspect,
                    aspect_label=label,
                    before=before[aspect],
                    after=text,
                    text=sentence,
                )
            )
    return changes


def _aspects(cell: Cell, row: DistrictRow, p: EffectiveProcess) -> dict[CellAspect, str]:
    """Each aspect of ``cell`` as the Swedish text a reviewer compares."""

    def names(values: Iterable[str], empty: str) -> str:
        return "; ".join(dict.fromkeys(values)) or empty

    local = {s.step for s in row.local_steps}
    tightened = [
        f"{t.label}: {duration_sv(t.local)} från att {t.counts_from_label[:1].lower()}{t.counts_from_label[1:]}"
        for t in row.tightened_deadlines
        if t.step in cell.steps
    ]
    return {
        "offered": names((p.steps[s].label for s in cell.steps), "erbjuds inte"),
        "guaranteed": "garanterad" if cell.guaranteed else "inte garanterad",
        "unit": names((u.label for u in cell.units), "ingen enhet"),
        "kind": names((KIND_LABELS.get(u.kind, u.kind) for u in cell.units), "ingen"),
        "role": names((u.role_label for u in cell.units), "ingen roll"),
        "deadline": names(tightened, "ingen"),
        "local": names((p.steps[s].label for s in cell.steps if s in local), "inga"),
    }


def _row(compiled: CompiledProcess, central: EffectiveProcess, interventions: Sequence[str]) -> DistrictRow:
    p = compiled.process
    cells = []
    for intervention in interventions:
        steps = [s for s, step in p.steps.items() if step.intervention == intervention]
        units: dict[tuple[str | None, str], CellUnit] = {}
        for step_id in steps:
            role = p.steps[step_id].role
            if role is None:
                continue
            unit_id = p.bindings.get(role)
            unit = p.units.get(unit_id) if unit_id else None
            key = (unit_id, role)
            if key not in units:
                units[key] = CellUnit(
                    id=unit_id,
                    label=unit.label if unit else p.roles[role].label,
                    kind=unit.kind if unit else "",
                    role=role,
                    role_label=p.roles[role].label,
                    steps=[],
                )
            units[key].steps.append(step_id)
        guaranteed = any(p.steps[s].guaranteed for s in steps)
        grouped = [s for u in units.values() for s in u.steps] + [s for s in steps if p.steps[s].role is None]
        cell = Cell(
            district=compiled.name, intervention=intervention, steps=grouped, guaranteed=guaranteed, units=list(units.values())
        )
        cells.append(cell)
    local_steps = []
    for step_id in p.local_steps:
        step = p.steps[step_id]
        unit_id = p.bindings.get(step.role) if step.role else None
        unit = p.units.get(unit_id) if unit_id else None
        local_steps.append(
            LocalStep(
                step=step_id,
                label=step.label,
                phase=step.phase,
                role=step.role,
                unit=unit_id,
                unit_label=unit.label if unit else None,
                unit_kind=unit.kind if unit else None,
                intervention=step.intervention,
                guaranteed=step.guaranteed,
                deadline=_deadline_text(p, step.deadline),
                after=sorted(compiled.graph.predecessors(step_id), key=list(p.steps).index),
            )
        )
    tightened = []
    for step_id, step in p.steps.items():
        base = central.steps.get(step_id)
        if base is None or step.deadline is None or not deadline_tightened(step.deadline, base.deadline):
            continue
        text = _deadline_text(p, step.deadline)
        assert text is not None
        tightened.append(
            TightenedDeadline(
                step=step_id,
                label=step.label,
                central=base.deadline.within if base.deadline else None,
                local=text.within,
                counts_from=text.counts_from,
                counts_from_label=text.counts_from_label,
            )
        )
    assert p.district is not None, "the equality matrix compares districts"
    return DistrictRow(
        district=p.district.id,
        label=p.district.label,
        version=compiled.version,
        cells=cells,
        local_steps=local_steps,
        tightened_deadlines=tightened,
    )


def deadline_tightened(local: Deadline, central: Deadline | None) -> bool:
    """Whether ``local`` is a tighter deadline than ``central``: a deadline where the central step has
    none, or one from the same event that can never end later and can end sooner (``2w`` against
    ``14d`` is the same deadline)."""
    if central is None:
        return True
    if local.from_ != central.from_:
        return False
    return duration_is_longer(central.within, local.within) and not duration_is_longer(local.within, central.within)


def _deadline_text(p: EffectiveProcess, deadline: Deadline | None) -> DeadlineText | None:
    if deadline is None:
        return None
    event = p.events.get(deadline.from_)
    label = STEP_OPENED_LABEL if deadline.from_ == STEP_OPENED else event.label if event else deadline.from_
    return DeadlineText(within=deadline.within, counts_from=deadline.from_, counts_from_label=label)


# --- the derived parts -----------------------------------------------------------------------


def _signature(cell: Cell, aspect: Aspect) -> tuple[str, ...]:
    if aspect == "role":
        values = {u.role for u in cell.units}
    elif aspect == "kind":
        values = {u.kind for u in cell.units}
    else:
        values = {RVC if u.kind == RVC else (u.id or f"({u.role})") for u in cell.units}
    return tuple(sorted(values))


def _assemble(process: str, process_label: str, version: str, columns: list[Column], rows: list[DistrictRow]) -> EqualityMatrix:
    """Majorities, each cell's ``differs``, ``tightened`` and ``local``: everything derived."""
    for column in columns:
        column.majority = {}
        cells = [row_cell for row in rows for row_cell in row.cells if row_cell.intervention == column.intervention]
        for aspect in ASPECTS:
            value, count = Counter(_signature(c, aspect) for c in cells).most_common(1)[0] if cells else ((), 0)
            if count * 2 > len(rows):
                column.majority[aspect] = list(value)
        for c in cells:
            c.differs = [a for a in ASPECTS if a in column.majority and list(_signature(c, a)) != column.majority[a]]
    for row in rows:
        tightened = {t.step for t in row.tightened_deadlines}
        local = {s.step for s in row.local_steps}
        for c in row.cells:
            c.tightened = [s for s in c.steps if s in tightened]
            c.local = [s for s in c.steps if s in local]
    return EqualityMatrix(process=process, process_label=process_label, version=version, columns=columns, districts=rows)


# --- the terminal ----------------------------------------------------------------------------


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
        table.add_row(Text(row.label), *(_cell_text(cell) for cell in row.cells))
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


def _cell_text(cell: Cell) -> Text:
    text = Text()
    if not cell.units:
        text.append("saknas", style="bold red")
    for n, unit in enumerate(cell.units):
        if n:
            text.append("\n")
        text.append(unit.label, style="yellow" if cell.differs else "")
        text.append(f" ({unit.id or unit.role})", style="dim")
    if cell.differs:
        text.append("\n≠ flertalet: " + ", ".join(ASPECT_LABELS[a] for a in cell.differs), style="bold yellow")
    if cell.tightened:
        text.append("\nskärpt tidsfrist: " + ", ".join(cell.tightened), style="bold cyan")
    if cell.local:
        text.append("\nlokalt steg: " + ", ".join(cell.local), style="bold magenta")
    if not cell.guaranteed and cell.steps:
        text.append("\ninte garanterad här", style="bold red")
    return text


KIND_LABELS = {"district": "stadsdelens", "rvc": "RVC", "city": "stadens", "region": "regionens", "external": "extern"}


def _majority_text(column: Column) -> str:
    shown = {a: [KIND_LABELS.get(v, v) for v in vs] if a == "kind" else vs for a, vs in column.majority.items() if a != "role"}
    parts = [f"{ASPECT_LABELS[a]}: {', '.join(v) or '–'}" for a, v in shown.items()]
    return "\n".join(parts) or "ingen majoritet"


__all__ = [
    "CELL_ASPECT_LABELS",
    "Cell",
    "CellAspect",
    "CellChange",
    "CellUnit",
    "Column",
    "DistrictRow",
    "EqualityMatrix",
    "LocalStep",
    "TightenedDeadline",
    "deadline_tightened",
    "equality_changes",
    "equality_from_build",
    "equality_matrix",
    "equality_tables",
]
