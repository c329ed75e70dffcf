"""The process language, defined once.

Stage: none, this is the vocabulary every stage shares.  The pydantic models
validate the YAML files, their ``Field(description=…)`` texts are the
documentation, and ``python -m engine.schema`` (or ``brytupp schema``) writes
the JSON Schema that editors use (``processes/process.schema.json``).

Two documents exist:

* ``ProcessDocument``: the city-wide process (``processes/*.yaml``);
* ``DistrictOverride``: one district's adaptation (``local_overrides/*.yaml``).

Everything is a mapping keyed by id, never a list addressed by position, so an
override can name exactly what it changes.  Models are strict: a YAML ``yes``
or ``"14"`` where a boolean or number belongs is an error, not a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from .language import Expr, parse_condition
from .language.facttypes import declaration_problem

IDENT = r"^[a-z][a-z0-9_]*$"
Id = Annotated[str, Field(pattern=IDENT)]
SwedishLabel = Annotated[str, Field(min_length=1, description="Label shown to users, in Swedish.")]


class ConditionText(str):
    """A condition's source text that also carries its parsed AST."""

    ast: Expr


def _parse_condition(text: str) -> ConditionText:
    parsed = ConditionText(text)
    parsed.ast = parse_condition(text)
    return parsed


Condition = Annotated[
    str,
    AfterValidator(_parse_condition),
    Field(
        description=(
            "A condition over the client's facts, e.g. `risk_level == 'high' and "
            "'housing' in needs` or `any(children, witnessed_violence)`; "
            "`otherwise` holds when no sibling condition does."
        )
    ),
]

DURATION = re.compile(r"^(\d+)([dwm])$")
Duration = Annotated[
    str,
    Field(
        pattern=DURATION.pattern,
        description="A length of time: `0d` (same day), `7d`, `2w`, `4m` (calendar months).",
    ),
]


def parse_duration(text: str) -> tuple[int, int]:
    """``'4m'`` -> ``(4, 0)``, ``'2w'`` -> ``(0, 14)``: (months, days)."""
    m = DURATION.match(text)
    if m is None:
        raise ValueError(f"not a duration: {text!r}")
    count, unit = int(m.group(1)), m.group(2)
    return (count, 0) if unit == "m" else (0, count * (7 if unit == "w" else 1))


def duration_is_longer(new: str, old: str) -> bool:
    """Whether ``new`` can end later than ``old`` from some start date.

    Months are 28 to 31 days long, so ``1m`` vs ``30d`` is longer for some
    start dates: that counts as longer, because a deadline may never be loosened
    for any client.
    """
    (m1, d1), (m2, d2) = parse_duration(new), parse_duration(old)
    return m1 * 31 + d1 > m2 * 28 + d2 if m1 > m2 else (d1 > d2 + (m2 - m1) * 28)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    # Where a loaded document's keys and values came from (an ``errors.SourceMap``); set by
    # the loader and the merge, never part of the data, the schema or the version hash.
    _source: Any = PrivateAttr(default=None)


# --- the central process ----------------------------------------------------

FactType = Literal["boolean", "integer", "enum", "set", "date", "object", "list"]


# Versions stored before every integer fact declared a range and every list a length are still
# read, so that cases stay on the version they started on (until migrated deliberately): missing
# bounds are taken as wide as JSON numbers exactly hold, and lists as long as any household.
_STORED: ContextVar[bool] = ContextVar("reading_stored_version", default=False)
STORED_LIMIT = 2**53
STORED_MAX_ITEMS = 1000


@contextmanager
def reading_stored_version() -> Iterator[None]:
    """Read process texts as a version stored earlier, in the language of its day."""
    token = _STORED.set(True)
    try:
        yield
    finally:
        _STORED.reset(token)


class FactSpec(Model):
    """One fact the engine may reason over.  Conditions may use declared facts only."""

    type: FactType = Field(description="Value type of the fact.")
    label: SwedishLabel
    description: str | None = None
    values: list[Id] | None = Field(default=None, description="Allowed values, for `enum` and `set` facts.")
    fields: dict[Id, FactSpec] | None = Field(default=None, description="Fields of an `object`, or of each item of a `list`.")
    min: int | None = Field(default=None, description="Lowest allowed value of an `integer` fact; required there.")
    max: int | None = Field(default=None, description="Highest allowed value of an `integer` fact; required there.")
    max_items: int | None = Field(
        default=None,
        ge=1,
        description="Most items a `list` fact may hold; required there, so that no client's facts make deciding slow.",
    )

    # Editors flag a missing range as the user types; the validator below says the same at load time.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {"if": {"properties": {"type": {"const": "integer"}}}, "then": {"required": ["min", "max"]}},
                {"if": {"properties": {"type": {"const": "list"}}}, "then": {"required": ["max_items"]}},
            ]
        }
    )

    @model_validator(mode="after")
    def _shape(self) -> FactSpec:
        if _STORED.get():
            self._widen()
        problem = declaration_problem(self)  # which keys each type needs is its class's
        if problem is not None:
            raise ValueError(problem)
        return self

    def _widen(self) -> None:
        """A version stored before ranges and lengths were required: the widest a value could be then."""
        if self.type == "integer":
            self.min = -STORED_LIMIT if self.min is None else self.min
            self.max = STORED_LIMIT if self.max is None else self.max
        if self.type == "list" and self.max_items is None:
            self.max_items = STORED_MAX_ITEMS

    @property
    def bounds(self) -> tuple[int, int]:
        """``(min, max)`` of an integer fact (validation makes every integer fact declare both)."""
        if self.min is None or self.max is None:
            raise ValueError(f"a {self.type} fact has no range")
        return self.min, self.max


class ProcessInfo(Model):
    id: Id = Field(description="Id that district overrides name in `extends`.")
    label: SwedishLabel
    owner: str = Field(description="Who owns the process, e.g. Socialförvaltningen, Stockholms stad.")
    description: str | None = None


class Phase(Model):
    label: SwedishLabel
    description: str | None = None


class Role(Model):
    label: SwedishLabel
    description: str | None = None


class Intervention(Model):
    label: SwedishLabel
    programme: bool = Field(default=False, description="One of the Bryt upp programme's own interventions.")
    description: str | None = None


class Event(Model):
    """Something a deadline counts from.

    Its date is either a date fact (``fact``), the completion of a step
    (``step``), or, with neither, the moment the case was opened.
    """

    label: SwedishLabel
    fact: str | None = Field(default=None, description="A declared `date` fact, e.g. `report_received`.")
    step: Id | None = Field(default=None, description="A step whose completion date is the event.")

    @model_validator(mode="after")
    def _one_source(self) -> Event:
        if self.fact is not None and self.step is not None:
            raise ValueError("an event comes from a fact or a step, not both")
        return self


STEP_OPENED = "step_opened"


class Deadline(Model):
    within: Duration = Field(description="Time allowed, counted from the event.")
    from_: Id = Field(
        alias="from",
        description=f"Declared event the time counts from, or `{STEP_OPENED}` (when the step became open).",
    )
    note: str | None = Field(default=None, description="How the rule applies, e.g. late reports.")


class LegalRef(Model):
    ref: str = Field(description="The provision, e.g. `SoL (2025:400) 11 kap.`.")
    note: str | None = None


class Transition(Model):
    when: Condition | None = Field(default=None, description="Taken only when this holds; absent means always.")
    label: str | None = Field(default=None, description="Swedish text for diagrams.")
    note: str | None = None


Gateway = Literal["exclusive", "inclusive", "parallel"]


class Step(Model):
    label: SwedishLabel
    phase: Id
    role: Id | None = Field(default=None, description="Responsible role; required except on terminal steps.")
    intervention: Id | None = Field(default=None, description="The intervention this step offers, if any.")
    guaranteed: bool = Field(
        default=False,
        description="Promised to every client who qualifies; no district may remove or weaken it.",
    )
    deadline: Deadline | None = None
    legal: list[LegalRef] = Field(default_factory=list, description="Legal basis, as data.")
    for_each: Literal["child"] | None = Field(
        default=None, description="Repeat the step once per child (each child's own decision)."
    )
    for_each_when: Condition | None = Field(
        default=None, description="Which children the step repeats for; names their fields as `child.x`."
    )
    gateway: Gateway = Field(
        default="exclusive",
        description=(
            "How outgoing transitions are taken: `exclusive` exactly one, `inclusive` every "
            "one whose condition holds, `parallel` all (they must be unconditional)."
        ),
    )
    join: Literal["any", "all"] = Field(
        default="any",
        description="`all`: open only when every incoming branch that was started has arrived.",
    )
    closure_reason: Id | None = Field(default=None, description="Marks a terminal step: the case closes with this reason.")
    outcomes: dict[Id, SwedishLabel] = Field(
        default_factory=dict,
        description=(
            "The outcome codes a completion of this step may record, e.g. `{placed: Placerad}`; "
            "none declared, none recorded.  A closing step's outcome is its closure_reason."
        ),
    )
    description: str | None = None
    next: dict[Id, Transition | None] = Field(default_factory=dict, description="Outgoing transitions keyed by target step id.")

    @model_validator(mode="after")
    def _closing_outcome(self) -> Step:
        if self.closure_reason is not None and self.outcomes:
            raise ValueError("a closing step's outcome is its closure_reason: leave out 'outcomes'")
        return self

    @property
    def terminal(self) -> bool:
        return self.closure_reason is not None

    def allowed_outcomes(self) -> list[str]:
        """The outcome codes a completion may carry: the closure reason of a closing step."""
        return [self.closure_reason] if self.closure_reason is not None else list(self.outcomes)

    def transitions(self) -> dict[str, Transition]:
        return {target: t or Transition() for target, t in self.next.items()}


# --- units: the city's, declared in the central process, and each district's own ----


class Contact(Model):
    # Frozen: decisions hand out the process's own contacts (shared, like their steps).
    model_config = ConfigDict(frozen=True)

    label: SwedishLabel
    organisation: str | None = Field(default=None, description="E.g. Region Stockholm, Polisen.")
    phone: str | None = None
    email: str | None = None
    note: str | None = None


UnitKind = Literal["district", "rvc", "city", "region", "external"]
CITY_WIDE_KINDS: tuple[UnitKind, ...] = ("city", "rvc")


class Unit(Model):
    label: SwedishLabel
    kind: UnitKind = Field(
        default="district",
        description=(
            "Whose unit it is: the district's own, an RVC, a city-wide one, Region Stockholm's, another "
            "organisation's.  The central process declares only `city` and `rvc` units."
        ),
    )
    contact: Contact | None = None


# Which RVC serves a district is the district's choice (its `rvc:`), so a central binding
# can only name the RVC by this word, never by a unit id.
DISTRICT_RVC = "rvc"


class ProcessDocument(Model):
    """The city-wide process description."""

    process: ProcessInfo
    start: Id = Field(description="The step every case starts at.")
    facts: dict[Id, FactSpec] = Field(description="The facts vocabulary conditions may use.")
    events: dict[Id, Event] = Field(description="Events deadlines count from.")
    phases: dict[Id, Phase] = Field(description="Phases, in order.")
    roles: dict[Id, Role]
    interventions: dict[Id, Intervention]
    closure_reasons: dict[Id, SwedishLabel]
    steps: dict[Id, Step]
    units: dict[Id, Unit] = Field(
        default_factory=dict,
        description=(
            "The city-wide units (kind `city` or `rvc`), declared once for every district: a district "
            "binds roles to them and chooses its RVC among them, but never declares them again."
        ),
    )
    bindings: dict[Id, Id] = Field(
        default_factory=dict,
        description=(
            "Default bindings, `{role: unit}`, to a city-wide unit, or to `rvc`: the RVC the district "
            "names in `rvc:`.  A district that binds the role under `roles` overrides its default."
        ),
    )


# --- a district's override ---------------------------------------------------


class StepPatch(Model):
    """Changes to one central step, addressed by its id."""

    role: Id | None = Field(default=None, description="Give the step to another declared role.")
    deadline: Deadline | None = Field(default=None, description="A tighter deadline (never looser).")
    redirect: dict[Id, Id] = Field(
        default_factory=dict,
        description="Send an outgoing transition elsewhere: `{old_target: new_target}`, e.g. through a local step.",
    )
    contacts: list[Id] = Field(default_factory=list, description="Local contacts for this step.")
    note: str | None = Field(default=None, description="Local instruction shown with the step.")
    remove: bool = Field(
        default=False,
        description="Drop a non-guaranteed step; its single unconditional successor takes its place.",
    )
    guaranteed: bool | None = Field(
        default=None, description="Only `true` is accepted: a district may add guarantees, never drop one."
    )


class DistrictOverride(Model):
    """One district administration's adaptation of the central process."""

    district: Id = Field(description="District id, e.g. `farsta`.")
    label: SwedishLabel
    extends: Id = Field(description="Id of the central process this adapts.")
    rvc: Id = Field(description="The RVC that serves the district: one of the `rvc` units the central process declares.")
    units: dict[Id, Unit] = Field(
        description=(
            "The district's own units and the other organisations' it works with; the city-wide units "
            "come from the central process and are not declared again."
        )
    )
    roles: dict[Id, Id] = Field(
        description=(
            "Role -> unit: every role the central process does not bind by default, and any default "
            "the district binds differently (to its own unit or another city-wide one)."
        )
    )
    contacts: dict[Id, Contact] = Field(default_factory=dict, description="Local contacts: Region Stockholm, the police, …")
    steps: dict[Id, StepPatch] = Field(default_factory=dict, description="Changes to central steps.")
    add_steps: dict[Id, Step] = Field(default_factory=dict, description="Local steps.")
    add_transitions: dict[Id, dict[Id, Transition | None]] = Field(
        default_factory=dict, description="New transitions: `{from_step: {to_step: {when: …}}}`."
    )


def json_schema() -> dict[str, Any]:
    """One JSON Schema that accepts either document, for editors."""
    process = ProcessDocument.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    override = DistrictOverride.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs = {**process.pop("$defs", {}), **override.pop("$defs", {})}
    defs["ProcessDocument"] = process
    defs["DistrictOverride"] = override
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Bryt upp process description or district override",
        "anyOf": [{"$ref": "#/$defs/ProcessDocument"}, {"$ref": "#/$defs/DistrictOverride"}],
        "$defs": dict(sorted(defs.items())),
    }


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(json_schema_text(), end="")


class DistrictInfo(Model):
    id: Id
    label: SwedishLabel
    rvc: Id


class EffectiveProcess(ProcessDocument):
    """A process as one district runs it: the central process with the override applied.

    Produced by ``merge_override``; never written by hand.  For the central
    process alone, ``district`` is None and nothing is bound.
    """

    district: DistrictInfo | None = None
    units: dict[Id, Unit] = Field(
        default_factory=dict, description="The district's own units and the city-wide ones its process uses."
    )
    bindings: dict[Id, Id] = Field(default_factory=dict, description="Role -> unit, the city's defaults included.")
    contacts: dict[Id, Contact] = Field(default_factory=dict)
    step_notes: dict[Id, str] = Field(default_factory=dict)
    step_contacts: dict[Id, list[Id]] = Field(default_factory=dict)
    local_steps: list[Id] = Field(default_factory=list, description="Steps the district added.")
    changed_steps: list[Id] = Field(default_factory=list, description="Central steps the district changed.")
    removed_steps: list[Id] = Field(default_factory=list, description="Central steps the district removed.")
    redirects: list[tuple[Id, Id, Id]] = Field(
        default_factory=list, description="Redirected transitions: (step, old target, new target)."
    )

    def unit_for(self, step_id: str) -> Unit | None:
        role = self.steps[step_id].role
        unit_id = self.bindings.get(role) if role else None
        return self.units.get(unit_id) if unit_id else None
