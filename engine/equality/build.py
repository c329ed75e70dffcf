"""Building the equality matrix from the compiled central process and districts.

A district's row says, per column, which of its steps offer the intervention
and which units and roles are responsible for them; its local steps
(``add_steps``); its local instructions (``steps.<id>.note``); and its tightened deadlines: a central step whose deadline the
district made shorter (same event, a duration that can never end later and can
end sooner), or given a deadline the central step does not have.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..compile import CompiledProcess
from ..pipeline import Build
from ..schema import STEP_OPENED, Deadline, EffectiveProcess, duration_is_longer
from .derived import assemble
from .model import Cell, CellUnit, Column, DeadlineText, DistrictRow, EqualityMatrix, LocalStep, StepNote, TightenedDeadline

STEP_OPENED_LABEL = "Steget öppnas"


def equality_matrix(central: CompiledProcess, districts: Iterable[CompiledProcess]) -> EqualityMatrix:
    """The matrix of ``districts`` (sorted by id) against ``central``."""
    c = central.process
    compiled = sorted(districts, key=lambda d: d.name)
    columns = matrix_columns(central, compiled)
    rows = [district_row(d, c, [col.intervention for col in columns]) for d in compiled]
    return assemble(c.process.id, c.process.label, central.version, columns, rows)


def matrix_columns(central: CompiledProcess, districts: Iterable[CompiledProcess]) -> list[Column]:
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


def district_row(compiled: CompiledProcess, central: EffectiveProcess, interventions: Sequence[str]) -> DistrictRow:
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
    notes = [StepNote(step=s, label=step.label, note=p.step_notes[s]) for s, step in p.steps.items() if s in p.step_notes]
    assert p.district is not None, "the equality matrix compares districts"
    return DistrictRow(
        district=p.district.id,
        label=p.district.label,
        version=compiled.version,
        cells=cells,
        local_steps=local_steps,
        tightened_deadlines=tightened,
        step_notes=notes,
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
