"""What a draft of a district's file changes in the district's row of the equality matrix.

``equality_changes(central, live, draft)`` says which cells of a district's
row a draft of its file changes (``CellChange``: the intervention, the aspect,
before and after in Swedish), for the review of the draft before it goes live.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

from ..compare import duration_sv
from ..compile import CompiledProcess
from ..schema import EffectiveProcess
from .build import district_row, matrix_columns
from .model import KIND_LABELS, Cell, DistrictRow

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
    steps.  The row is the matrix's own (``district_row``), so what is reported is what the matrix will show;
    the majority flags are left out, they depend on the other districts, not on the draft.
    """
    c = central.process
    columns = matrix_columns(central, [base, new])
    interventions = [col.intervention for col in columns]
    rows = [(district_row(compiled, c, interventions), compiled.process) for compiled in (base, new)]
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
