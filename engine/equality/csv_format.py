"""The equality matrix as CSV, and read back from it (``EqualityMatrix.to_csv`` / ``from_csv``).

One row per record, ``typ`` says which: ``stad`` (first: the central process, its id, label
and version in the ``stadsdel`` columns), ``insats`` (a unit in a cell; an empty cell is one
row without a unit), ``lokalt_steg``, ``tidsfrist`` (a tightened deadline), ``anvisning`` (a
local instruction on a step, its text in ``anvisning``).  Lists are space separated; ``flaggor``
is derived and ignored when read back.

Reading it back derives the flags again (``engine/equality/derived.py``), so a
matrix read from its CSV is equal to the one written.
"""

from __future__ import annotations

import csv
import io

from .derived import assemble
from .model import (
    ASPECT_LABELS,
    Cell,
    CellUnit,
    Column,
    DeadlineText,
    DistrictRow,
    EqualityMatrix,
    LocalStep,
    StepNote,
    TightenedDeadline,
)

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
    "anvisning",
    "flaggor",
]


def write_csv(matrix: EqualityMatrix) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerow({"typ": "stad", "stadsdel": matrix.process, "stadsdel_namn": matrix.process_label, "version": matrix.version})
    columns = {c.intervention: c for c in matrix.columns}
    for row in matrix.districts:
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
        for note in row.step_notes:
            writer.writerow({**base, "typ": "anvisning", "steg": note.step, "steg_namn": note.label, "anvisning": note.note})
    return buffer.getvalue()


def read_csv(text: str) -> EqualityMatrix:
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
            _read_cell(record, row, columns, cells)
        elif kind == "lokalt_steg":
            row.local_steps.append(_local_step(record))
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
        elif kind == "anvisning":
            row.step_notes.append(StepNote(step=record["steg"], label=record["steg_namn"], note=record["anvisning"]))
        else:
            raise ValueError(f"unknown record type {kind!r} in the equality CSV")
    if process is None:
        raise ValueError("the equality CSV has no 'stad' row naming the central process")
    return assemble(*process, list(columns.values()), list(rows.values()))


def _read_cell(record: dict[str, str], row: DistrictRow, columns: dict[str, Column], cells: dict[tuple[str, str], Cell]) -> None:
    """An ``insats`` record: a unit of a cell (the cell's first record makes the cell and its column)."""
    district, intervention = record["stadsdel"], record["insats"]
    columns.setdefault(
        intervention,
        Column(intervention=intervention, label=record["insats_namn"], central=record["central_garanti"] == "ja"),
    )
    cell = cells.get((district, intervention))
    if cell is None:
        cell = Cell(district=district, intervention=intervention, steps=[], guaranteed=record["garanterad"] == "ja", units=[])
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


def _local_step(record: dict[str, str]) -> LocalStep:
    return LocalStep(
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


def _yes(value: bool) -> str:
    return "ja" if value else "nej"


def _flags(cell: Cell) -> list[str]:
    return [
        *(f"avviker_{ASPECT_LABELS[a]}" for a in cell.differs),
        *(["skärpt_tidsfrist"] if cell.tightened else []),
        *(["lokalt_steg"] if cell.local else []),
        *(["lokal_anvisning"] if cell.noted else []),
    ]
