"""Two versions of a process compared: ``compare(base, new)`` -> ``ProcessChanges``.

Input: two compiled processes, usually a district's live version (``base``) and a draft of its
file (``new``); two central versions, or a district against its central process, compare the same
way.  Output: what the draft changes, step by step, with Swedish text (``StepChange.text``, a phrase
such as ``tidsfrist skärpt från 14 dagar till 10 dagar``; ``lines``, whole sentences) and structured
fields for API clients; ``model_dump(mode="json")`` is the JSON.

Per step id, in the new version's step order (removed steps last, in the base's order):

* ``added``, ``removed``; ``label``;
* ``responsible``: where both versions bind roles to units (two versions of a district), the unit the
  step's role is bound to, so that a role moved to another unit under ``roles:`` shows on every step
  it carries although no step changed its role; where one side binds nothing (a central process),
  the role;
* ``deadline``: tightened or loosened (loosened when it can end later for some start date, the rule
  ``merge`` applies), counted from another event, added, dropped, or only its note changed;
* ``guarantee``; ``route``: a transition added, dropped, given another condition, or redirected
  (a ``redirect`` added or undone is one change; the transition into a removed step is not repeated,
  the removed step says it);
* ``note`` and ``contacts``: the district's own (``step_notes``, ``step_contacts``);
* ``other``: what a district cannot change but a new central version can (phase, gateway…), named.

Role bindings are listed once more per role (``roles``), since one line under ``roles:`` moves every
step of the role.  Stale notes: a step whose responsible unit changes while its note stays the same is
listed in ``review_notes``.  Notes name units ("ges som lots av RVT"), and a note left beside a new
unit tells caseworkers the wrong thing; a note that changed with the unit was written for it.

Not compared: the details of units and contacts (labels, phone numbers), facts, events, phases:
they change the version without changing a step.  ``render.diff_diagram`` and
``render.change_diagram`` take their marks from here, so the pictures say what this module says.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .compile import CompiledProcess
from .schema import DURATION, STEP_OPENED, Deadline, EffectiveProcess, Step, Transition, duration_is_longer

ChangeKind = Literal["added", "removed", "label", "responsible", "deadline", "guarantee", "route", "note", "contacts", "other"]

# Fields a district cannot touch on a central step; a new central version can.
OTHER_FIELDS = {
    "phase": "fas",
    "intervention": "insats",
    "gateway": "vägval",
    "join": "sammanflöde",
    "for_each": "per barn",
    "for_each_when": "vilka barn",
    "closure_reason": "avslutsorsak",
    "outcomes": "utfall",
    "legal": "rättslig grund",
    "description": "beskrivning",
}


class StepChange(BaseModel):
    step: str
    label: str = Field(description="The step's label in `new` (in `base` for a removed step).")
    kind: ChangeKind
    text: str = Field(description="What changed, in Swedish, as a phrase, e.g. `tidsfrist skärpt från 14 dagar till 10 dagar`.")
    before: str | None = Field(default=None, description="The value in `base`, in Swedish; None where there was none.")
    after: str | None = Field(default=None, description="The value in `new`, in Swedish; None where there is none.")
    role_before: str | None = Field(default=None, description="responsible, removed: the role in `base`.")
    role_after: str | None = Field(default=None, description="responsible, added: the role in `new`.")
    unit_before: str | None = Field(default=None, description="responsible, removed: the unit id in `base` (None if unbound).")
    unit_after: str | None = Field(default=None, description="responsible, added: the unit id in `new` (None if unbound).")
    target_before: str | None = Field(default=None, description="route: the transition's target in `base`.")
    target_after: str | None = Field(default=None, description="route: the transition's target in `new`.")
    tightened: bool | None = Field(
        default=None, description="deadline: true when tightened, false when loosened, None when neither."
    )


class RoleChange(BaseModel):
    role: str
    role_label: str
    unit_before: str | None
    unit_before_label: str | None
    unit_after: str | None
    unit_after_label: str | None
    steps: list[str] = Field(description="The steps of `new` this role is responsible for.")


class NoteReview(BaseModel):
    """A note left unchanged beside a step whose responsible unit changed."""

    step: str
    label: str
    unit_before: str | None
    unit_before_label: str
    unit_after: str | None
    unit_after_label: str
    note: str


class ProcessChanges(BaseModel):
    base: str = Field(description="Name of the version compared against (a district id or a process id).")
    base_version: str
    new: str
    new_version: str
    steps: list[StepChange] = Field(default_factory=list)
    roles: list[RoleChange] = Field(default_factory=list)
    review_notes: list[NoteReview] = Field(default_factory=list)
    lines: list[str] = Field(default_factory=list, description="Everything above as Swedish sentences.")

    @property
    def empty(self) -> bool:
        return not self.steps and not self.roles

    def of(self, step_id: str, kind: ChangeKind | None = None) -> list[StepChange]:
        return [c for c in self.steps if c.step == step_id and (kind is None or c.kind == kind)]


# --- Swedish text of a process's values ---------------------------------------------------------


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def duration_sv(text: str) -> str:
    """``14d`` -> ``14 dagar``, ``1w`` -> ``1 vecka``, ``4m`` -> ``4 månader``."""
    m = DURATION.match(text)
    if m is None:
        return text
    count, unit = int(m.group(1)), m.group(2)
    one, many = {"d": ("dag", "dagar"), "w": ("vecka", "veckor"), "m": ("månad", "månader")}[unit]
    return f"{count} {one if count == 1 else many}"


def deadline_sv(process: EffectiveProcess, deadline: Deadline) -> str:
    """``inom 14 dagar från att orosanmälan om barn inkom``, ``samma dag som steget öppnades``."""
    if deadline.from_ == STEP_OPENED:
        event = "steget öppnades"
    elif deadline.from_ in process.events:
        event = _lower_first(process.events[deadline.from_].label)
    else:
        event = deadline.from_
    m = DURATION.match(deadline.within)
    if m is not None and int(m.group(1)) == 0:
        return f"samma dag som {event}"
    return f"inom {duration_sv(deadline.within)} från att {event}"


def _route_sv(label: str, transition: Transition) -> str:
    if transition.when is None:
        return f"till {label}"
    return f"till {label} " + ("annars" if transition.when.strip() == "otherwise" else f"när {transition.when}")


# --- comparing --------------------------------------------------------------------------------


class _Compare:
    def __init__(self, base: CompiledProcess, new: CompiledProcess) -> None:
        self.b, self.n = base.process, new.process
        # Units mean something only where both versions bind roles; else the role is the responsible.
        self.bound = self.b.district is not None and self.n.district is not None
        self.label = {**{s: st.label for s, st in self.b.steps.items()}, **{s: st.label for s, st in self.n.steps.items()}}
        self.out = ProcessChanges(base=base.name, base_version=base.version, new=new.name, new_version=new.version)

    def add(self, step_id: str, kind: ChangeKind, text: str, **fields: Any) -> None:
        self.out.steps.append(StepChange(step=step_id, label=self.label[step_id], kind=kind, text=text, **fields))

    def responsible(self, p: EffectiveProcess, step: Step) -> tuple[str | None, str]:
        """The unit id (None where unbound) and the Swedish name of who is responsible."""
        if step.role is None:
            return None, "ingen ansvarig"
        role = p.roles[step.role].label if step.role in p.roles else step.role
        unit_id = p.bindings.get(step.role) if self.bound else None
        unit = p.units.get(unit_id) if unit_id else None
        if unit is not None:
            return unit_id, unit.label
        return None, f"rollen {role} (ingen enhet)" if self.bound else role

    def run(self) -> ProcessChanges:
        b, n = self.b, self.n
        for step_id, step in n.steps.items():
            old = b.steps.get(step_id)
            if old is None:
                unit, who = self.responsible(n, step)
                text = f"nytt steg i fasen {n.phases[step.phase].label if step.phase in n.phases else step.phase}, ansvarig {who}"
                self.add(step_id, "added", text, after=who, role_after=step.role, unit_after=unit)
            else:
                self.step(step_id, old, step)
        for step_id, step in b.steps.items():
            if step_id not in n.steps:
                unit, who = self.responsible(b, step)
                self.add(step_id, "removed", "steget tas bort", before=who, role_before=step.role, unit_before=unit)
        self.roles()
        self.out.lines = self.lines()
        return self.out

    def step(self, step_id: str, old: Step, new: Step) -> None:
        if old.label != new.label:
            self.add(step_id, "label", f"benämningen ändrad från ”{old.label}”", before=old.label, after=new.label)
        self.responsibility(step_id, old, new)
        self.deadline(step_id, old.deadline, new.deadline)
        if old.guaranteed != new.guaranteed:
            yes, no = "garanterad", "inte garanterad"
            text = "blir garanterad insats" if new.guaranteed else "inte längre garanterad"
            self.add(step_id, "guarantee", text, before=yes if old.guaranteed else no, after=yes if new.guaranteed else no)
        self.routes(step_id, old, new)
        self.notes(step_id)
        other = [sv for name, sv in OTHER_FIELDS.items() if getattr(old, name) != getattr(new, name)]
        if other:
            self.add(step_id, "other", "ändrat: " + ", ".join(other))

    def responsibility(self, step_id: str, old: Step, new: Step) -> None:
        (unit_a, who_a), (unit_b, who_b) = self.responsible(self.b, old), self.responsible(self.n, new)
        roles = {"role_before": old.role, "role_after": new.role, "unit_before": unit_a, "unit_after": unit_b}
        if unit_a != unit_b and who_a == who_b:  # two units of one name: the ids tell them apart
            who_a, who_b = f"{who_a} ({unit_a})", f"{who_b} ({unit_b})"
        # a unit that only got a new label is the same unit: nothing moved
        if unit_a != unit_b if self.bound else old.role != new.role:
            self.add(step_id, "responsible", f"ansvar flyttat från {who_a} till {who_b}", before=who_a, after=who_b, **roles)
            note = self.n.step_notes.get(step_id)
            if self.bound and unit_a != unit_b and note is not None and note == self.b.step_notes.get(step_id):
                review = NoteReview(
                    step=step_id,
                    label=new.label,
                    unit_before=unit_a,
                    unit_before_label=who_a,
                    unit_after=unit_b,
                    unit_after_label=who_b,
                    note=note,
                )
                self.out.review_notes.append(review)
        elif old.role != new.role:
            role_a, role_b = (self.n.roles[r].label if r in self.n.roles else str(r) for r in (old.role, new.role))
            text = f"ansvarig roll ändrad från {role_a} till {role_b}, samma enhet"
            self.add(step_id, "responsible", text, before=role_a, after=role_b, **roles)

    def deadline(self, step_id: str, old: Deadline | None, new: Deadline | None) -> None:
        if old == new:
            return
        before = deadline_sv(self.b, old) if old else None
        after = deadline_sv(self.n, new) if new else None
        texts = {"before": before, "after": after}
        if old is None:
            self.add(step_id, "deadline", f"ny tidsfrist: {after}", tightened=True, **texts)
        elif new is None:
            self.add(step_id, "deadline", f"tidsfristen tas bort (var {before})", tightened=False, **texts)
        elif old.from_ != new.from_:
            self.add(step_id, "deadline", f"tidsfrist ändrad från {before} till {after}", **texts)
        elif old.within == new.within:
            self.add(step_id, "deadline", "anvisningen om tidsfristen ändrad", before=old.note, after=new.note)
        else:
            a, z = duration_sv(old.within), duration_sv(new.within)
            # loosened for any start date counts as loosened: a month can be longer than 30 days
            if duration_is_longer(new.within, old.within):
                self.add(step_id, "deadline", f"tidsfrist förlängd från {a} till {z}", tightened=False, **texts)
            elif duration_is_longer(old.within, new.within):
                self.add(step_id, "deadline", f"tidsfrist skärpt från {a} till {z}", tightened=True, **texts)
            else:
                self.add(step_id, "deadline", f"tidsfrist skriven om från {a} till {z}", **texts)

    def routes(self, step_id: str, old: Step, new: Step) -> None:
        was, now = old.transitions(), new.transitions()
        gone = [t for t in was if t not in now]
        came = [t for t in now if t not in was]
        redirects = {(s, a): z for s, a, z in self.n.redirects if (s, a, z) not in self.b.redirects}
        undone = {(s, z): a for s, a, z in self.b.redirects if (s, a, z) not in self.n.redirects}
        for target in came:
            source = next((a for a in gone if redirects.get((step_id, a)) == target or undone.get((step_id, a)) == target), None)
            route = {"after": _route_sv(self.label[target], now[target]), "target_after": target}
            if source is None:
                self.add(step_id, "route", f"ny väg till {self.label[target]}", **route)
                continue
            gone.remove(source)
            how = "går via" if (step_id, source) in redirects else "går inte längre via"
            via, to = (target, source) if how == "går via" else (source, target)
            text = f"vägen till {self.label[to]} {how} {self.label[via]}"
            self.add(step_id, "route", text, before=_route_sv(self.label[source], was[source]), target_before=source, **route)
        for target in (t for t in gone if t in self.n.steps):  # a route into a removed step: the step says it
            text = f"vägen till {self.label[target]} tas bort"
            self.add(step_id, "route", text, before=_route_sv(self.label[target], was[target]), target_before=target)
        for target in (t for t in now if t in was and now[t] != was[t]):
            what = "villkoret för" if now[target].when != was[target].when else "texten för"
            texts = {"before": _route_sv(self.label[target], was[target]), "after": _route_sv(self.label[target], now[target])}
            self.add(
                step_id,
                "route",
                f"{what} vägen till {self.label[target]} ändrad",
                **texts,
                target_before=target,
                target_after=target,
            )

    def notes(self, step_id: str) -> None:
        old, new = self.b.step_notes.get(step_id), self.n.step_notes.get(step_id)
        if old != new:
            text = "ny anteckning" if old is None else "anteckningen tas bort" if new is None else "anteckningen ändrad"
            self.add(step_id, "note", text, before=old, after=new)
        was, now = self.b.step_contacts.get(step_id, []), self.n.step_contacts.get(step_id, [])
        if was != now:
            names_a = [self.b.contacts[c].label if c in self.b.contacts else c for c in was]
            names_b = [self.n.contacts[c].label if c in self.n.contacts else c for c in now]
            text = "kontakterna ändrade" if was and now else "nya kontakter" if now else "kontakterna tas bort"
            self.add(step_id, "contacts", text, before="; ".join(names_a) or None, after="; ".join(names_b) or None)

    def roles(self) -> None:
        if not self.bound:
            return
        b, n = self.b, self.n
        for role in dict.fromkeys([*b.bindings, *n.bindings]):
            unit_a, unit_b = b.bindings.get(role), n.bindings.get(role)
            if unit_a == unit_b:
                continue
            label = n.roles[role].label if role in n.roles else b.roles[role].label if role in b.roles else role
            change = RoleChange(
                role=role,
                role_label=label,
                unit_before=unit_a,
                unit_before_label=b.units[unit_a].label if unit_a in b.units else None,
                unit_after=unit_b,
                unit_after_label=n.units[unit_b].label if unit_b in n.units else None,
                steps=[s for s, st in n.steps.items() if st.role == role],
            )
            self.out.roles.append(change)

    def lines(self) -> list[str]:
        out = []
        for r in self.out.roles:
            where = f" ({len(r.steps)} steg)" if r.steps else ""
            before, after = r.unit_before_label or "ingen enhet", r.unit_after_label or "ingen enhet"
            out.append(f"Rollen {r.role_label} flyttas från {before} till {after}{where}.")
        out.extend(f"{c.label}: {c.text}." for c in self.out.steps)
        out.extend(
            f"Granska anteckningen vid {r.label}: ansvaret flyttas från {r.unit_before_label} till {r.unit_after_label}, "
            f"men anteckningen är oförändrad: ”{r.note}”"
            for r in self.out.review_notes
        )
        return out


def compare(base: CompiledProcess, new: CompiledProcess) -> ProcessChanges:
    """What ``new`` changes against ``base`` (see the module docstring)."""
    return _Compare(base, new).run()


__all__ = [
    "ChangeKind",
    "NoteReview",
    "ProcessChanges",
    "RoleChange",
    "StepChange",
    "compare",
    "deadline_sv",
    "duration_sv",
]
