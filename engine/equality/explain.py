"""What the equality matrix flags, said in Swedish sentences for the people who read it.

A flag alone ("avviker: enhet") leaves the reader to work out from what and by how much; these
sentences say it: which unit here and which in most districts (and in how many), that a column
has no common way at all, which deadline a district tightened from what to what and counted from
which event, which local steps and instructions it added.  Only labels are used, never ids: the
readers are socialsekreterare and chefer, not the process files.

``cell_remarks`` explains one cell, ``row_remarks`` what a district changed outside the matrix's
columns (tightened deadlines, local steps and instructions on steps that offer no guaranteed
intervention), ``deadline_sentence`` one tightened deadline.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Literal

from pydantic import BaseModel

from ..compare import duration_sv
from ..schema import STEP_OPENED
from .derived import signature
from .model import RVC, Aspect, Cell, Column, DistrictRow, EqualityMatrix, StepNote, TightenedDeadline

RemarkKind = Literal["differs", "varies", "tightened", "local", "noted", "missing", "not_guaranteed"]
KIND_PHRASES = {
    "district": "stadsdelens egen enhet",
    RVC: "RVC",
    "city": "en stadsövergripande enhet",
    "region": "Region Stockholm",
    "external": "en extern aktör",
}
# What an aspect is called in "Ingen gemensam …" and in "N olika …".
ASPECT_NOUNS: dict[Aspect, tuple[str, str]] = {
    "unit": ("enhet", "enheter"),
    "kind": ("typ av enhet", "typer av enheter"),
    "role": ("roll", "roller"),
}
_DURATION = re.compile(r"^(\d+)([dwm])$")


class Remark(BaseModel):
    kind: RemarkKind
    text: str
    detail: str | None = None  # a local instruction's own words, which can run to a paragraph


def cell_remarks(matrix: EqualityMatrix, cell: Cell) -> list[Remark]:
    """Why ``cell`` is flagged, one sentence per reason, in the order differs, tightened, local, noted."""
    column = next(c for c in matrix.columns if c.intervention == cell.intervention)
    row = matrix.row(cell.district)
    out: list[Remark] = []
    if not cell.steps:
        out.append(Remark(kind="missing", text="Stadsdelen erbjuder inte insatsen."))
    elif not cell.guaranteed:
        out.append(Remark(kind="not_guaranteed", text="Insatsen är inte garanterad i stadsdelen."))
    cells = [matrix.cell(r.district, column.intervention) for r in matrix.districts]
    for aspect in cell.differs:
        if aspect in column.varies:
            out.append(Remark(kind="varies", text=_varies(cells, cell, aspect)))
        else:
            out.append(Remark(kind="differs", text=_departs(cells, cell, column, aspect)))
    for t in row.tightened_deadlines:
        if t.step in cell.tightened:
            out.append(Remark(kind="tightened", text=deadline_sentence(t)))
    for step in row.local_steps:
        if step.step in cell.local:
            out.append(Remark(kind="local", text=f"Lokalt steg som stadsdelen har lagt till: {step.label}."))
    out.extend(_note(n) for n in row.step_notes if n.step in cell.noted)
    return out


def row_remarks(matrix: EqualityMatrix, row: DistrictRow) -> list[Remark]:
    """What the district changed on steps outside the matrix's cells: tightened deadlines, local
    steps and local instructions, so that no difference is shown only in some other view."""
    in_cells = {s for c in row.cells for s in c.steps}
    out = [Remark(kind="tightened", text=deadline_sentence(t)) for t in row.tightened_deadlines if t.step not in in_cells]
    for step in row.local_steps:
        if step.step in in_cells:
            continue
        by = f", {step.unit_label}" if step.unit_label else ""
        deadline = ""
        if step.deadline is not None:
            event = _event(step.deadline.counts_from, step.deadline.counts_from_label)
            deadline = f", {_within(step.deadline.within)} från att {event}"
        out.append(Remark(kind="local", text=f"Lokalt steg: {step.label}{by}{deadline}."))
    out.extend(_note(n) for n in row.step_notes if n.step not in in_cells)
    return out


def deadline_sentence(t: TightenedDeadline) -> str:
    """``Skärpt frist för Förhandsbedömning: inom 10 dagar i stället för 14 från att orosanmälan om barn inkom.``"""
    event = _event(t.counts_from, t.counts_from_label)
    local = _within(t.local)
    if t.central is None:
        return f"Skärpt frist för {t.label}: {local} från att {event}; staden har ingen frist för steget."
    here, city = _DURATION.match(t.local), _DURATION.match(t.central)
    # "inom 10 dagar i stället för 14": the unit is said once where both are counted in the same one.
    same_unit = here is not None and city is not None and here.group(2) == city.group(2) and int(here.group(1)) > 0
    instead = city.group(1) if same_unit and city is not None else _within(t.central).removeprefix("inom ")
    return f"Skärpt frist för {t.label}: {local} i stället för {instead} från att {event}."


def _within(duration: str) -> str:
    m = _DURATION.match(duration)
    if m is not None and int(m.group(1)) == 0:
        return "samma dag"
    return f"inom {duration_sv(duration)}"


def _event(event: str, label: str) -> str:
    if event == STEP_OPENED:
        return "steget öppnades"
    return label[:1].lower() + label[1:]


def _note(note: StepNote) -> Remark:
    return Remark(kind="noted", text=f"Lokal anvisning för {note.label}.", detail=" ".join(note.note.split()))


def _value_text(cells: list[Cell], aspect: Aspect, value: tuple[str, ...]) -> str:
    """A signature in words: the unit labels (the commonest wording where districts word the same
    unit differently), the kinds of unit, or the role labels."""
    if not value:
        return "ingen"
    if aspect == "kind":
        return " och ".join(KIND_PHRASES.get(v, v) for v in value)
    words: dict[str, Counter[str]] = {v: Counter() for v in value}
    for c in cells:
        if signature(c, aspect) != value:
            continue
        for u in c.units:
            key = u.role if aspect == "role" else RVC if u.kind == RVC else (u.id or f"({u.role})")
            label = u.role_label if aspect == "role" else "stadsdelens RVC" if u.kind == RVC else u.label
            if key in words:
                words[key][label] += 1
    return " och ".join(words[v].most_common(1)[0][0] if words[v] else v for v in value)


def _departs(cells: list[Cell], cell: Cell, column: Column, aspect: Aspect) -> str:
    majority = tuple(column.majority[aspect])
    held = sum(1 for c in cells if signature(c, aspect) == majority)
    here, most = _value_text([cell], aspect, signature(cell, aspect)), _value_text(cells, aspect, majority)
    if aspect == "unit":
        return f"Avviker från flertalet: här ansvarar {here}, i {held} av {len(cells)} stadsdelar {most}."
    if aspect == "kind":
        return f"Annan typ av enhet än i flertalet: här {here}, i {held} av {len(cells)} stadsdelar {most}."
    return f"Annan roll än i flertalet: här {here}, i {held} av {len(cells)} stadsdelar {most}."


def _varies(cells: list[Cell], cell: Cell, aspect: Aspect) -> str:
    mine = signature(cell, aspect)
    counts = Counter(signature(c, aspect) for c in cells)
    noun, plural = ASPECT_NOUNS[aspect]
    here = _value_text([cell], aspect, mine)
    shared = counts[mine] - 1
    if shared == 0:
        alike = "ingen annan stadsdel har samma"
    else:
        alike = f"samma som i {shared} {'annan stadsdel' if shared == 1 else 'andra stadsdelar'}"
    return (
        f"Ingen {noun} är gemensam för flertalet stadsdelar: {len(counts)} olika {plural} i {len(cells)} stadsdelar. "
        f"Här {here}, {alike}."
    )
