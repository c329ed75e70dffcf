"""A client's case as the decision engine sees it: facts plus what has happened.

``CaseState`` is the input of ``decide``.  Facts use the process's declared
vocabulary (``facts:`` in the process file); ``normalize_facts`` checks them
against it and fills the declared defaults (false for booleans, empty for sets
and lists), so every later stage sees one shape.  A client is a pseudonymous
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

from .errors import BrytUppError, closest, did_you_mean
from .schema import FactSpec, Step

Unknown = dict[str, list[tuple[Any, str | None]]]  # object path -> [(key as sent, closest declared name)]


class FactsError(BrytUppError, ValueError):
    """Facts that do not fit the vocabulary; ``problems`` maps ``facts.path`` to what is wrong.

    ``unknown`` keeps the undeclared keys as they were sent, by the path of the object
    holding them, for a caller showing users their own file (the command line); the
    message and ``problems`` never hold them.
    """

    def __init__(self, problems: dict[str, str], unknown: Unknown | None = None) -> None:
        self.problems = problems
        self.unknown: Unknown = unknown or {}
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems.items()))


class _Problems(dict[str, str]):
    """Problems by path, and the undeclared keys met on the way (``FactsError.unknown``)."""

    def __init__(self) -> None:
        super().__init__()
        self.unknown: Unknown = {}


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
    """Writes a vocabulary's normalizer as straight-line Python, one function per object shape.

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
            body += [f"    v{i} = get({fact!r})", *self.check(f"v{i}", spec)]
        body.append("    return {" + ", ".join(f"{fact!r}: v{i}" for i, fact in enumerate(fields)) + "}")
        self.lines += body
        return name

    def check(self, v: str, spec: FactSpec) -> list[str]:
        """Lines that leave the normalized value in ``v``, or raise _Unusual."""
        kind = spec.type
        if kind == "boolean":
            return [f"    if {v} is None:", f"        {v} = False", f"    elif type({v}) is not bool:", "        raise _Unusual"]
        if kind == "integer":
            low, high = spec.bounds
            return [f"    if {v} is not None and (type({v}) is not int or not {low} <= {v} <= {high}):", "        raise _Unusual"]
        if kind in ("enum", "set"):
            allowed = f"allowed_{len(self.env)}"
            self.env[allowed] = frozenset(spec.values or ())
            if kind == "enum":
                return [f"    if {v} is not None and {v} not in {allowed}:", "        raise _Unusual"]
            return [
                f"    if {v} is None:",
                f"        {v} = EMPTY",
                f"    elif type({v}) in SEQUENCES and {allowed}.issuperset({v}):",
                f"        {v} = frozenset({v})",
                "    else:",
                "        raise _Unusual",
            ]
        if kind == "date":
            return [
                f"    if {v} is not None and type({v}) is not date:",
                f"        if type({v}) is str:",
                f"            {v} = fromisoformat({v})",
                f"        elif type({v}) is datetime:",
                f"            {v} = {v}.date()",
                "        else:",
                "            raise _Unusual",
            ]
        read = self.function(spec.fields or {})
        if kind == "object":  # a missing object still has its fields' defaults
            return [f"    {v} = {read}({{}} if {v} is None else {v})"]
        return [
            f"    if {v} is None:",
            f"        {v} = []",
            f"    elif type({v}) is list and len({v}) <= {int(spec.max_items or 0)}:",
            f"        {v} = [{read}(item) for item in {v}]",
            "    else:",
            "        raise _Unusual",
        ]


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
    return {name: _value(spec, raw.get(name), f"{path}.{name}", problems) for name, spec in fields.items()}


def _unknown_keys(close: list[str | None], fields: Mapping[str, FactSpec], noun: str) -> str:
    """``unknown fact; the facts are …; did you mean 'age'?``: declared names only."""
    count = f"{len(close)} unknown {noun}s" if len(close) > 1 else f"unknown {noun}"
    suggested = list(dict.fromkeys(name for name in close if name is not None))
    hint = f"; did you mean {' or '.join(repr(name) for name in suggested)}?" if suggested else ""
    return f"{count}; the {noun}s are {', '.join(fields)}{hint}"


def _value(spec: FactSpec, value: Any, path: str, problems: _Problems) -> Any:
    kind = spec.type
    if value is None:  # the declared defaults: a missing object still has its fields' defaults
        if kind == "object":
            return _object(spec.fields or {}, {}, path, problems)
        return {"boolean": False, "set": frozenset(), "list": []}.get(kind)
    if kind == "boolean":
        if not isinstance(value, bool):
            problems[path] = "expected true or false"
        return value
    if kind == "integer":
        low, high = spec.bounds
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            problems[path] = f"expected a whole number from {low} to {high}"
        return value
    values = spec.values or []
    if kind == "enum":
        if value not in values:
            problems[path] = f"expected one of {', '.join(values)}{_suggestion(value, values)}"
        return value
    if kind == "set":
        items = value if isinstance(value, list | set | frozenset | tuple) else None
        if items is None:
            problems[path] = "expected a list of values"
            return frozenset()
        bad = next(((n, v) for n, v in enumerate(items, 1) if v not in values), None)
        if bad is not None:
            # Counted from 1: the message is prose; the path stays the set's own.
            problems[path] = f"item {bad[0]} is not one of {', '.join(values)}{_suggestion(bad[1], values)}"
            # A list or an object among the items cannot go into a set: keep the declared ones only.
            return frozenset(v for v in items if isinstance(v, str) and v in values)
        return frozenset(items)
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            problems[path] = "expected a date, YYYY-MM-DD"
            return None
    if kind == "object":
        return _object(spec.fields or {}, value, path, problems)
    if not isinstance(value, list):
        problems[path] = "expected a list"
        return []
    if len(value) > (spec.max_items or 0):
        # Nothing of a list longer than the process allows is read: each item costs work.
        problems[path] = f"expected at most {spec.max_items} {path.rsplit('.', 1)[-1]}"
        return []
    return [_object(spec.fields or {}, item, f"{path}[{i}]", problems) for i, item in enumerate(value)]


def _suggestion(value: Any, values: list[str]) -> str:
    """A declared value close to a text that was sent; nothing for anything else."""
    return did_you_mean(value, values) if isinstance(value, str) else ""
