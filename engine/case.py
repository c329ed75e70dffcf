"""A client's case as the decision engine sees it: facts plus what has happened.

``CaseState`` is the input of ``decide``.  Facts use the process's declared
vocabulary (``facts:`` in the process file); ``normalize_facts`` checks them
against it and fills the declared defaults (false for booleans, empty for sets
and lists), so every later stage sees one shape.  What each fact type accepts,
its default and its messages are its class's in ``language.facttypes``; this
module walks a vocabulary with them, and writes the fast normalizer from them.  A client is a pseudonymous
reference: no names or personal identity numbers appear here.

What is wrong with a fact is said without repeating what was sent: the value or
key may be anything a caseworker typed, a personal identity number included, and
the messages end up in API answers and logs.  A message names the declared
vocabulary instead (which facts, which values, which range), and a key that is
not declared is reported at the object that holds it, since the key is itself
submitted text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import FactsError, Unknown, closest, did_you_mean
from .language.facttypes import FACT_TYPES, fact_type
from .schema import FactSpec, Step


class _Problems(dict[str, str]):
    """Problems by path, and the undeclared keys met on the way (``FactsError.unknown``)."""

    def __init__(self) -> None:
        super().__init__()
        self.unknown: Unknown = {}

    def read(self, fields: Mapping[str, FactSpec], raw: Any, path: str) -> dict[str, Any]:
        """An object nested in the facts, its problems recorded here (``facttypes.ReadObject``)."""
        return _object(fields, raw, path, self)


class CompletedStep(BaseModel):
    """A step that has been done for this case (for one child, where the step is per child)."""

    model_config = ConfigDict(extra="forbid")

    step: str = Field(description="Step id.")
    on: dt.date = Field(description="The date it was completed.")
    child: int | None = Field(default=None, ge=0, description="Index into `facts.children` for a per-child step.")
    outcome: str | None = Field(
        default=None, description="An outcome code the step declares (`outcomes`), or a closing step's closure reason."
    )
    facts_from: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Index into the case's `history` of the facts this step was completed with, for several "
            "events on one day; by default the last entry dated on or before `on`."
        ),
    )


class DatedFacts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: dt.date = Field(description="From this date on, the facts were these (until the next entry).")
    facts: dict[str, Any]


class CaseState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facts: dict[str, Any] = Field(default_factory=dict, description="The facts as they are now.")
    history: list[DatedFacts] = Field(
        default_factory=list,
        description=(
            "The facts as they were earlier, oldest first.  A step completed on a date is routed with "
            "the facts of that date, so what is learnt later does not re-route decisions already made. "
            "Without history, every completion is routed with the current facts."
        ),
    )
    opened: dt.date = Field(description="When the case was opened (aktualiserat).")
    today: dt.date = Field(description="The date to decide for: due dates and overdue flags count from it.")
    completed: list[CompletedStep] = Field(default_factory=list, description="What has been done, in order.")


def outcome_problem(step: Step, outcome: str | None) -> str | None:
    """What is wrong with completing ``step`` with ``outcome``, or None; never repeats ``outcome``."""
    allowed = step.allowed_outcomes()
    if outcome is None or outcome in allowed:
        return None
    if not allowed:
        return "this step records no outcome"
    return f"the outcomes of this step are {', '.join(allowed)}{did_you_mean(outcome, allowed)}"


def normalize_facts(vocabulary: Mapping[str, FactSpec], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Facts checked against the vocabulary, with defaults filled; raises FactsError."""
    problems = _Problems()
    out = _object(vocabulary, raw, "facts", problems, "fact")
    if problems:
        raise FactsError(dict(problems), problems.unknown)
    return out


Normalizer = Callable[[Any], dict[str, Any]]


def fact_normalizer(vocabulary: Mapping[str, FactSpec]) -> Normalizer:
    """``normalize_facts`` for one vocabulary, planned once: deciding normalizes on every call.

    The plan handles the shapes clients send (JSON types, dates as text or dates); anything
    else, and every error, goes to ``normalize_facts`` so results and messages are the same.
    """
    read = _Plan().reader(vocabulary)

    def normalize(raw: Any) -> dict[str, Any]:
        try:
            return read(raw)
        except (_Unusual, TypeError, ValueError):
            return normalize_facts(vocabulary, raw)

    return normalize


class _Unusual(Exception):
    """A value the planned normalizer leaves to ``normalize_facts``."""


class _Plan:
    """Writes a vocabulary's normalizer as straight-line Python, one function per object shape,
    from the lines each fact type gives (``FactType.plan``).

    With a function per fact, the calls cost more than the checks; written out, a case's
    facts are checked in a few µs.  Fact names are ids (``[a-z][a-z0-9_]*``), so they
    can be written into the source as they are.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.env: dict[str, Any] = {
            "_Unusual": _Unusual,
            "Mapping": Mapping,
            "date": dt.date,
            "datetime": dt.datetime,
            "fromisoformat": dt.date.fromisoformat,
            "SEQUENCES": (list, frozenset, set, tuple),
            "EMPTY": frozenset(),
        }

    def reader(self, fields: Mapping[str, FactSpec]) -> Normalizer:
        name = self.function(fields)
        exec(compile("\n".join(self.lines), "<fact normalizer>", "exec"), self.env)
        read: Normalizer = self.env[name]
        return read

    def constant(self, value: Any) -> str:
        """A name the generated source reads ``value`` under."""
        name = f"constant_{len(self.env)}"
        self.env[name] = value
        return name

    def function(self, fields: Mapping[str, FactSpec]) -> str:
        """Writes the reader of one object shape (nested ones first) and returns its name."""
        n = len(self.env)
        names, name = f"names_{n}", f"read_{n}"
        self.env[names] = frozenset(fields)
        body = [
            f"def {name}(raw):",
            f"    if not (type(raw) is dict or isinstance(raw, Mapping)) or not {names}.issuperset(raw):",
            "        raise _Unusual",
            "    get = raw.get",
        ]
        for i, (fact, spec) in enumerate(fields.items()):
            body += [f"    v{i} = get({fact!r})", *fact_type(spec).plan(f"v{i}", spec, self)]
        body.append("    return {" + ", ".join(f"{fact!r}: v{i}" for i, fact in enumerate(fields)) + "}")
        self.lines += body
        return name


def _object(
    fields: Mapping[str, FactSpec], raw: Any, path: str, problems: _Problems, noun: str = "field"
) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        problems[path] = "expected an object"
        return {}
    unknown = [(key, closest(key, fields) if isinstance(key, str) else None) for key in raw if key not in fields]
    if unknown:
        problems.unknown[path] = unknown
        problems[path] = _unknown_keys([close for _, close in unknown], fields, noun)
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        value, at, kind, read = raw.get(name), f"{path}.{name}", FACT_TYPES[spec.type], problems.read
        out[name] = kind.default(spec, at, read) if value is None else kind.normalize(spec, value, at, problems, read)
    return out


def _unknown_keys(close: list[str | None], fields: Mapping[str, FactSpec], noun: str) -> str:
    """``unknown fact; the facts are …; did you mean 'age'?``: declared names only."""
    count = f"{len(close)} unknown {noun}s" if len(close) > 1 else f"unknown {noun}"
    suggested = list(dict.fromkeys(name for name in close if name is not None))
    hint = f"; did you mean {' or '.join(repr(name) for name in suggested)}?" if suggested else ""
    return f"{count}; the {noun}s are {', '.join(fields)}{hint}"
