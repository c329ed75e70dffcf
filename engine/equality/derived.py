"""The flags of the equality matrix, derived from the rest of it in one place (``assemble``).

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
aspects where it departs from that majority.  Where the districts differ and
no value has a majority (the districts organise it many ways: the decisions on
stable housing are made by six different units), the column ``varies`` on that
aspect and every cell is flagged on it: there is no common way to depart from,
and a reader comparing districts has to look at each one.  Before, such a
column flagged nothing, which hid the widest differences of all.

Also flagged, per district: its local steps (``add_steps``), its tightened
deadlines (``engine/equality/build.py`` says which those are) and its local
instructions (``steps.<id>.note``).  In a cell, ``tightened``, ``local`` and
``noted`` name the cell's steps among those.

Everything derived (majorities, ``varies``, ``differs``, a cell's
``tightened``, ``local`` and ``noted``) is computed here from the rest, both when the matrix is built and
when it is read back from its CSV, so a matrix read back is equal to the one
written.
"""

from __future__ import annotations

from collections import Counter

from .model import ASPECTS, RVC, Aspect, Cell, Column, DistrictRow, EqualityMatrix


def signature(cell: Cell, aspect: Aspect) -> tuple[str, ...]:
    if aspect == "role":
        values = {u.role for u in cell.units}
    elif aspect == "kind":
        values = {u.kind for u in cell.units}
    else:
        values = {RVC if u.kind == RVC else (u.id or f"({u.role})") for u in cell.units}
    return tuple(sorted(values))


def assemble(process: str, process_label: str, version: str, columns: list[Column], rows: list[DistrictRow]) -> EqualityMatrix:
    """Majorities, ``varies``, each cell's ``differs``, ``tightened``, ``local`` and ``noted``: everything derived."""
    for column in columns:
        column.majority, column.varies = {}, []
        cells = [row_cell for row in rows for row_cell in row.cells if row_cell.intervention == column.intervention]
        for aspect in ASPECTS:
            counts = Counter(signature(c, aspect) for c in cells)
            value, count = counts.most_common(1)[0] if cells else ((), 0)
            if count * 2 > len(rows):
                column.majority[aspect] = list(value)
            elif len(counts) > 1:
                column.varies.append(aspect)
        for c in cells:
            c.differs = [
                a for a in ASPECTS if a in column.varies or (a in column.majority and list(signature(c, a)) != column.majority[a])
            ]
    for row in rows:
        tightened = {t.step for t in row.tightened_deadlines}
        local = {s.step for s in row.local_steps}
        noted = {n.step for n in row.step_notes}
        for c in row.cells:
            c.tightened = [s for s in c.steps if s in tightened]
            c.local = [s for s in c.steps if s in local]
            c.noted = [s for s in c.steps if s in noted]
    return EqualityMatrix(process=process, process_label=process_label, version=version, columns=columns, districts=rows)
