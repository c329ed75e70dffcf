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
            return [f"    if {v} is not None and type({v}) is not int:", "        raise _Unusual"]
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
            f"    elif type({v}) is list:",
            f"        {v} = [{read}(item) for item in {v}]",
            "    else:",
            "        raise _Unusual",
        ]


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
