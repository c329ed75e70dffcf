"""A client's case as the decision engine sees it: facts plus what has happened.

``CaseState`` is the input of ``decide``.  Facts use the process's declared
vocabulary (``facts:`` in the process file); ``normalize_facts`` checks them
against it and fills the declared defaults (false for booleans, empty for sets
and lists), so every later stage sees one shape.  A client is a pseudonymous
reference: no names or personal identity numbers appear here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import BrytUppError, did_you_mean
from .schema import FactSpec


class FactsError(BrytUppError, ValueError):
    """Facts that do not fit the vocabulary; ``problems`` maps ``facts.path`` to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems.items()))


class CompletedStep(BaseModel):
    """A step that has been done for this case (for one child, where the step is per child)."""

    model_config = ConfigDict(extra="forbid")

    step: str = Field(description="Step id.")
    on: dt.date = Field(description="The date it was completed.")
    child: int | None = Field(default=None, ge=0, description="Index into `facts.children` for a per-child step.")
    outcome: str | None = Field(default=None, description="Free outcome code, e.g. `placed`, `declined`.")
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


def normalize_facts(vocabulary: Mapping[str, FactSpec], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Facts checked against the vocabulary, with defaults filled; raises FactsError."""
    problems: dict[str, str] = {}
    out = _object(vocabulary, raw, "facts", problems)
    if problems:
        raise FactsError(problems)
    return out


Normalizer = Callable[[Any], dict[str, Any]]


def fact_normalizer(vocabulary: Mapping[str, FactSpec]) -> Normalizer:
    """``normalize_facts`` for one vocabulary, planned once: deciding normalizes on every call.

    The plan handles the shapes clients send (JSON types, dates as text or dates); anything
    else, and every error, goes to ``normalize_facts`` so results and messages are the same.
    """
    read = _object_reader(vocabulary)

    def normalize(raw: Any) -> dict[str, Any]:
        try:
            return read(raw)
        except (_Unusual, TypeError, ValueError):
            return normalize_facts(vocabulary, raw)

    return normalize


class _Unusual(Exception):
    """A value the planned normalizer leaves to ``normalize_facts``."""


def _object_reader(fields: Mapping[str, FactSpec]) -> Normalizer:
    names = frozenset(fields)
    readers = [(name, _reader(spec)) for name, spec in fields.items()]

    def read(raw: Any) -> dict[str, Any]:
        if not (type(raw) is dict or isinstance(raw, Mapping)) or not names.issuperset(raw):  # the ABC check is slow
            raise _Unusual
        get = raw.get
        return {name: reader(get(name)) for name, reader in readers}

    return read


def _reader(spec: FactSpec) -> Callable[[Any], Any]:
    kind = spec.type
    allowed = frozenset(spec.values or ())

    def boolean(value: Any) -> Any:
        if value is None:
            return False
        if type(value) is not bool:
            raise _Unusual
        return value

    def integer(value: Any) -> Any:
        if value is not None and type(value) is not int:
            raise _Unusual
        return value

    def enum(value: Any) -> Any:
        if value is not None and value not in allowed:
            raise _Unusual
        return value

    def set_(value: Any) -> Any:
        if value is None:
            return frozenset()
        if type(value) not in (list, frozenset, set, tuple) or not allowed.issuperset(value):
            raise _Unusual
        return frozenset(value)

    def date(value: Any) -> Any:
        kind = type(value)
        if value is None or kind is dt.date:
            return value
        if kind is str:
            return dt.date.fromisoformat(value)
        if kind is dt.datetime:
            return value.date()
        raise _Unusual

    if kind in ("object", "list"):
        read = _object_reader(spec.fields or {})
        if kind == "object":
            return lambda value: read({} if value is None else value)

        def items(value: Any) -> Any:
            if value is None:
                return []
            if type(value) is not list:
                raise _Unusual
            return [read(item) for item in value]

        return items
    return {"boolean": boolean, "integer": integer, "enum": enum, "set": set_, "date": date}[kind]


def _object(fields: Mapping[str, FactSpec], raw: Any, path: str, problems: dict[str, str]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        problems[path] = "expected an object"
        return {}
    for key in raw:
        if key not in fields:
            problems[f"{path}.{key}"] = f"unknown fact{did_you_mean(str(key), fields)}"
    return {name: _value(spec, raw.get(name), f"{path}.{name}", problems) for name, spec in fields.items()}


def _value(spec: FactSpec, value: Any, path: str, problems: dict[str, str]) -> Any:
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
        if not isinstance(value, int) or isinstance(value, bool):
            problems[path] = "expected a whole number"
        return value
    if kind == "enum":
        if value not in (spec.values or []):
            problems[path] = f"expected one of {', '.join(spec.values or [])}{did_you_mean(str(value), spec.values or [])}"
        return value
    if kind == "set":
        items = value if isinstance(value, list | set | frozenset | tuple) else None
        if items is None:
            problems[path] = "expected a list of values"
            return frozenset()
        bad = [v for v in items if v not in (spec.values or [])]
        if bad:
            problems[path] = f"unknown value '{bad[0]}'; expected some of {', '.join(spec.values or [])}"
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
    return [_object(spec.fields or {}, item, f"{path}[{i}]", problems) for i, item in enumerate(value)]
