"""The equality matrix as a document: districts × guaranteed interventions.

Columns are the interventions of the steps the central process guarantees, in
the order of those steps, followed by any intervention only a district
guarantees (``Column.central`` is false for those).  A cell lists the
district's steps that offer the intervention (central or local ones) and, per
responsible unit, the unit (id, Swedish label, kind) and the role bound to it.

The flags (a column's ``majority`` and ``varies``, a cell's ``differs``,
``tightened``, ``local`` and ``noted``) are derived in ``engine/equality/derived.py``; the CSV form is
``engine/equality/csv_format.py``'s.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Aspect = Literal["role", "kind", "unit"]
ASPECTS: tuple[Aspect, ...] = ("role", "kind", "unit")
ASPECT_LABELS: dict[Aspect, str] = {"role": "roll", "kind": "enhetstyp", "unit": "enhet"}
RVC = "rvc"
KIND_LABELS = {"district": "stadsdelens", "rvc": "RVC", "city": "stadens", "region": "regionens", "external": "extern"}


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
    noted: list[str] = Field(default_factory=list, description="The cell's steps the district gave a local instruction (note).")

    @property
    def flagged(self) -> bool:
        return bool(self.differs or self.tightened or self.local or self.noted)


class Column(BaseModel):
    intervention: str
    label: str
    central: bool = Field(description="Guaranteed by the central process (false: only some district guarantees it).")
    majority: dict[Aspect, list[str]] = Field(
        default_factory=dict, description="Per aspect, the value more than half of the districts share."
    )
    varies: list[Aspect] = Field(
        default_factory=list,
        description="Aspects on which the districts differ with no value held by more than half: every cell differs on them.",
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


class StepNote(BaseModel):
    """A district's local instruction on one of its steps (``steps.<id>.note``), in its own words."""

    step: str
    label: str
    note: str


class DistrictRow(BaseModel):
    district: str
    label: str
    version: str
    cells: list[Cell] = Field(description="One per column, in column order.")
    local_steps: list[LocalStep] = Field(default_factory=list)
    tightened_deadlines: list[TightenedDeadline] = Field(default_factory=list)
    step_notes: list[StepNote] = Field(default_factory=list, description="The district's local instructions, in step order.")


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
        """One row per record (``engine/equality/csv_format.py`` has the format)."""
        # Imported here: the format module builds these models, so it imports this one.
        from .csv_format import write_csv

        return write_csv(self)

    @classmethod
    def from_csv(cls, text: str) -> EqualityMatrix:
        """Read back what ``to_csv`` wrote."""
        from .csv_format import read_csv

        return read_csv(text)
