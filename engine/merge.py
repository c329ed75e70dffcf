"""Stage 2, merge: central ``ProcessDocument`` + ``DistrictOverride`` -> ``EffectiveProcess``.

Semantics, operation by operation (everything is addressed by id):

* City-wide units (socialjouren, Lärteamet, the RVCs…) are declared once, in the
  central process's ``units``, and its ``bindings`` binds roles to them by
  default: ``{role: unit}``, or ``{role: rvc}`` for the district's RVC.  That
  they are of kind ``city`` or ``rvc`` and that the bindings name declared roles
  and units is checked when the central file loads (``load.check_city_units``).
* ``units``, ``contacts``: the district's own; they are added.  A district
  cannot declare a city-wide unit's id again (``duplicate_unit``, pointing at
  the central declaration): the unit is one unit for the whole city, the same
  label and contact in every district, and lists and the equality matrix read it
  by its id across districts.  A district that works with another unit for the
  role declares its own under another id and binds the role to it.
* ``rvc`` chooses the RVC that serves the district: a unit of kind ``rvc``,
  one the central process declares (a district may declare its own, as processes
  written before the city declared its units did).  Another unit is refused.  A
  default binding to ``rvc`` binds the role to the chosen unit.
* ``roles: {role: unit}`` binds a central role to a unit of the district or a
  city-wide one, over the central default if there is one.  An unknown role or
  unit is refused, with a suggestion.  (A role left unbound, by the district and
  by default, is a validation finding, ``unbound_role``, so that all of them
  are listed.)
* The merged ``units`` are the district's own and the city-wide ones its process
  uses: its RVC and those a role is bound to.  The other RVCs do not serve it and
  a city-wide unit it bound every role away from does no step of its process.
* The central process alone, merged with no override, binds nothing: its
  ``units`` and ``bindings`` take effect in each district's process.
* ``steps: {id: patch}`` changes a central step:
  - ``role`` gives the step to another declared role;
  - ``deadline`` replaces the deadline with one that counts from the same event
    and is never longer (``duration_is_longer``); a step without a deadline may
    get one;
  - ``redirect: {old: new}`` sends the transition to ``old`` to ``new`` instead,
    keeping its condition; when ``old`` is guaranteed, ``new`` must lead on to it
    (checked on the merged graph by validation, ``redirect_skips_guaranteed``);
  - ``note`` and ``contacts`` attach local information;
  - ``guaranteed: true`` adds a guarantee, ``false`` on a guaranteed step is
    refused;
  - ``remove: true`` drops a step that is not guaranteed and has exactly one,
    unconditional, outgoing transition: every transition into it goes to that
    successor instead.
* ``add_steps`` adds local steps; an id the central process already uses is
  refused (patch it under ``steps`` instead).  A local step declares its own
  ``outcomes``.
* Outcomes of central steps are the central process's alone: a step patch has
  no ``outcomes`` key, so a district cannot add one (``unknown key``).  They are
  the city's vocabulary for what happened, read alike in every district's
  follow-up; a district that needs another outcome proposes it centrally.
* ``add_transitions: {from: {to: transition}}`` adds transitions from any step;
  a transition the central process already has cannot be replaced, since
  changing its condition could take a guaranteed step away from some clients.

Every refusal is a ``Finding`` pointing at the override, with ``related``
pointing at the central definition it concerns; all are raised together.
The result keeps a merged ``SourceMap``: central paths keep their central
positions (the city's units and default bindings among them), anything the
district wrote points into the district file.
"""

from __future__ import annotations

from .errors import Finding, KeyPath, ProcessError, SourceMap, did_you_mean
from .schema import (
    DISTRICT_RVC,
    DistrictInfo,
    DistrictOverride,
    EffectiveProcess,
    ProcessDocument,
    Step,
    Transition,
    Unit,
    duration_is_longer,
)

_KIND_ORDER = {"district": 0, "rvc": 1, "city": 2}


def source_of(document: object) -> SourceMap:
    """The source map a loaded or merged document carries (an empty one if built in code)."""
    source = getattr(document, "_source", None)
    return source if isinstance(source, SourceMap) else SourceMap("<memory>")


def merge_override(central: ProcessDocument, override: DistrictOverride | None = None) -> EffectiveProcess:
    """Apply ``override`` to ``central``; ``None`` gives the central process unbound."""
    central_src = source_of(central)
    # Already validated: construct without re-validating.  Steps are copied
    # shallowly; merging only ever assigns to a step's fields, never mutates them.
    fields = {name: getattr(central, name) for name in ProcessDocument.model_fields}
    fields["steps"] = {key: step.model_copy() for key, step in central.steps.items()}
    # The merge fills these in; the central ones must stay as they are for the next district.
    fields["units"], fields["bindings"] = {}, {}
    merged = EffectiveProcess.model_construct(**fields)
    source = SourceMap(central_src.file)
    central_src.copy_subtree((), (), source)
    merged._source = source
    if override is None:
        return merged
    return _Merge(central, merged, override, source).run()


class _Merge:
    def __init__(self, central: ProcessDocument, merged: EffectiveProcess, override: DistrictOverride, source: SourceMap) -> None:
        self.central = central
        self.central_src = source_of(central)
        self.merged = merged
        self.override = override
        self.src = source_of(override)
        self.source = source
        self.findings: list[Finding] = []

    def refuse(self, check: str, message: str, path: KeyPath, central_path: KeyPath | None = None) -> None:
        related = self.central_src.at(central_path) if central_path is not None else None
        self.findings.append(Finding(check, message, self.src.at(path), path, related, self.override.district))

    def run(self) -> EffectiveProcess:
        o, m = self.override, self.merged
        if o.extends != self.central.process.id:
            self.refuse(
                "unknown_reference",
                f"extends '{o.extends}', but the central process is '{self.central.process.id}'",
                ("extends",),
            )
        m.district = DistrictInfo(id=o.district, label=o.label, rvc=o.rvc)
        m.contacts = dict(o.contacts)
        for key in ("district", "label", "rvc", "units", "contacts"):
            self.src.copy_subtree((key,), (key,), self.source)
        self._own_units()
        self._bind_roles()
        m.units = self._units_used()
        self._add_steps()
        for step_id in o.steps:
            self._patch(step_id)
        self._add_transitions()
        if self.findings:
            raise ProcessError(self.findings)
        return m

    def _own_units(self) -> None:
        o, city = self.override, self.central.units
        for unit_id in o.units:
            if unit_id in city:
                self.refuse(
                    "duplicate_unit",
                    f"'{unit_id}' is a city-wide unit, declared in the central process; "
                    "bind roles to it without declaring it here",
                    ("units", unit_id),
                    ("units", unit_id),
                )
        rvc = o.units.get(o.rvc) or city.get(o.rvc)
        if rvc is None:
            known = [*o.units, *city]
            self.refuse("unknown_unit", f"unknown unit '{o.rvc}'{did_you_mean(o.rvc, known)}", ("rvc",))
        elif rvc.kind != "rvc":
            rvcs = ", ".join(f"'{u}'" for u, unit in {**city, **o.units}.items() if unit.kind == "rvc") or "none"
            self.refuse("wrong_unit_kind", f"'{o.rvc}' is not an RVC (kind '{rvc.kind}'); the RVCs are {rvcs}", ("rvc",))

    def _bind_roles(self) -> None:
        o, c = self.override, self.central
        self.src.copy_subtree(("roles",), ("bindings",), self.source)
        known = {**c.units, **o.units}
        own: dict[str, str] = {}
        for role, unit in o.roles.items():
            path: KeyPath = ("roles", role)
            if role not in c.roles:
                self.refuse("unknown_reference", f"unknown role '{role}'{did_you_mean(role, c.roles)}", path)
            elif unit not in known:
                self.refuse(
                    "unknown_unit",
                    f"unknown unit '{unit}' (not declared under units){did_you_mean(unit, known)}",
                    path,
                )
            else:
                own[role] = unit
        for role in c.roles:
            if role in own:
                self.merged.bindings[role] = own[role]
            elif role in c.bindings:
                default = c.bindings[role]
                self.merged.bindings[role] = o.rvc if default == DISTRICT_RVC else default
                self.central_src.copy_subtree(("bindings", role), ("bindings", role), self.source)
                self.source.origins[("bindings", role)] = ("bindings", role)

    def _units_used(self) -> dict[str, Unit]:
        used = {self.override.rvc, *self.merged.bindings.values()}
        units = dict(self.override.units)
        for unit_id, unit in self.central.units.items():
            if unit_id in used:
                units[unit_id] = unit
                self.central_src.copy_subtree(("units", unit_id), ("units", unit_id), self.source)
        # Lists of a district's units (the routines, a worklist's refusal) show its own first,
        # then the city's that serve it, then the other organisations' it works with.
        return dict(sorted(units.items(), key=lambda item: _KIND_ORDER.get(item[1].kind, len(_KIND_ORDER))))

    def _add_steps(self) -> None:
        for step_id, step in self.override.add_steps.items():
            path: KeyPath = ("add_steps", step_id)
            if step_id in self.central.steps:
                self.refuse(
                    "duplicate_step",
                    f"'{step_id}' is already a central step; change it under steps.{step_id}",
                    path,
                    ("steps", step_id),
                )
                continue
            self.merged.steps[step_id] = step.model_copy()
            self.merged.local_steps.append(step_id)
            self.src.copy_subtree(path, ("steps", step_id), self.source)

    def _patch(self, step_id: str) -> None:
        patch = self.override.steps[step_id]
        base: KeyPath = ("steps", step_id)
        if step_id not in self.central.steps:
            hint = (
                "; it is a local step, change it under add_steps"
                if step_id in self.override.add_steps
                else did_you_mean(step_id, self.central.steps)
            )
            self.refuse("unknown_reference", f"unknown central step '{step_id}'{hint}", base)
            return
        central_step = self.central.steps[step_id]
        step = self.merged.steps[step_id]
        changed = False
        if patch.guaranteed is False and central_step.guaranteed:
            self.refuse(
                "guaranteed_weakened",
                f"'{step_id}' is guaranteed by the central process; a district cannot drop the guarantee",
                base + ("guaranteed",),
                base + ("guaranteed",),
            )
        elif patch.guaranteed:
            step.guaranteed, changed = True, True
            self.src.copy_subtree(base + ("guaranteed",), base + ("guaranteed",), self.source)
        if patch.role is not None:
            if patch.role not in self.central.roles:
                self.refuse(
                    "unknown_reference",
                    f"unknown role '{patch.role}'{did_you_mean(patch.role, self.central.roles)}",
                    base + ("role",),
                )
            else:
                step.role, changed = patch.role, True
                self.src.copy_subtree(base + ("role",), base + ("role",), self.source)
        if patch.deadline is not None:
            changed |= self._tighten(step_id, central_step, step)
        for old, new in patch.redirect.items():
            changed |= self._redirect(step_id, step, old, new)
        if patch.note is not None:
            self.merged.step_notes[step_id] = patch.note
        for i, contact in enumerate(patch.contacts):
            if contact not in self.override.contacts:
                self.refuse(
                    "unknown_reference",
                    f"unknown contact '{contact}' (not declared under contacts){did_you_mean(contact, self.override.contacts)}",
                    base + ("contacts", i),
                )
        if patch.contacts:
            self.merged.step_contacts[step_id] = list(patch.contacts)
        if patch.remove:
            self._remove(step_id, central_step)
        elif changed:
            self.merged.changed_steps.append(step_id)

    def _tighten(self, step_id: str, central_step: Step, step: Step) -> bool:
        new = self.override.steps[step_id].deadline
        assert new is not None
        path: KeyPath = ("steps", step_id, "deadline")
        old = central_step.deadline
        if old is not None and new.from_ != old.from_:
            self.refuse(
                "deadline_loosened",
                f"a local deadline must count from the same event as the central one ('{old.from_}', not '{new.from_}')",
                path + ("from",),
                path + ("from",),
            )
            return False
        if old is not None and duration_is_longer(new.within, old.within):
            self.refuse(
                "deadline_loosened",
                f"loosens the deadline from {old.within} to {new.within} after {old.from_}; a district may only tighten it",
                path + ("within",),
                path + ("within",),
            )
            return False
        step.deadline = new.model_copy()
        self.src.copy_subtree(path, path, self.source)
        return True

    def _redirect(self, step_id: str, step: Step, old: str, new: str) -> bool:
        path: KeyPath = ("steps", step_id, "redirect", old)
        if old not in step.next:
            self.refuse(
                "unknown_reference",
                f"'{step_id}' has no transition to '{old}'{did_you_mean(old, step.next)}",
                path,
                ("steps", step_id, "next"),
            )
            return False
        if new not in self.merged.steps:
            self.refuse("unknown_reference", f"unknown step '{new}'{did_you_mean(new, self.merged.steps)}", path)
            return False
        step.next = {(new if target == old else target): t for target, t in step.next.items()}
        self.central_src.copy_subtree(("steps", step_id, "next", old), ("steps", step_id, "next", new), self.source)
        self.source.keys[("steps", step_id, "next", new)] = self.src.at(path)
        self.merged.redirects.append((step_id, old, new))
        return True

    def _remove(self, step_id: str, central_step: Step) -> None:
        path: KeyPath = ("steps", step_id, "remove")
        if central_step.guaranteed:
            self.refuse(
                "guaranteed_removed",
                f"'{step_id}' is guaranteed by the central process and cannot be removed",
                path,
                ("steps", step_id),
            )
            return
        outgoing = central_step.transitions()
        if len(outgoing) != 1 or next(iter(outgoing.values())).when is not None:
            self.refuse(
                "remove_refused",
                f"only a step with exactly one unconditional transition can be removed; '{step_id}' has {len(outgoing)}",
                path,
                ("steps", step_id, "next"),
            )
            return
        successor = next(iter(outgoing))
        m = self.merged
        del m.steps[step_id]
        m.removed_steps.append(step_id)
        if m.start == step_id:
            m.start = successor
        for other_id, other in m.steps.items():
            if step_id in other.next:
                if successor in other.next:
                    self.refuse(
                        "remove_refused",
                        f"removing '{step_id}' would give '{other_id}' two transitions to '{successor}'",
                        path,
                        ("steps", other_id, "next"),
                    )
                    continue
                other.next = {(successor if t == step_id else t): tr for t, tr in other.next.items()}

    def _add_transitions(self) -> None:
        for source_id, targets in self.override.add_transitions.items():
            base: KeyPath = ("add_transitions", source_id)
            step = self.merged.steps.get(source_id)
            if step is None:
                self.refuse("unknown_reference", f"unknown step '{source_id}'{did_you_mean(source_id, self.merged.steps)}", base)
                continue
            for target, transition in targets.items():
                path = base + (target,)
                if target in step.next:
                    self.refuse(
                        "transition_exists",
                        f"'{source_id}' already has a transition to '{target}'; a district cannot change it",
                        path,
                        ("steps", source_id, "next", target),
                    )
                elif target not in self.merged.steps:
                    self.refuse("unknown_reference", f"unknown step '{target}'{did_you_mean(target, self.merged.steps)}", path)
                else:
                    step.next = {**step.next, target: transition.model_copy() if transition else Transition()}
                    self.src.copy_subtree(path, ("steps", source_id, "next", target), self.source)
                    if source_id not in self.merged.local_steps and source_id not in self.merged.changed_steps:
                        self.merged.changed_steps.append(source_id)
