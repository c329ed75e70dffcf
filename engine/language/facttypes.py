"""The fact types (``type:`` of a declared fact), one class each, owning all a type means.

A type says which keys its declaration needs (``needs``, checked by
``declaration_problem`` for ``schema.FactSpec``), how a client's value is checked
and filled in (``normalize``, and the lines of the generated normaliser,
``plan``), how conditions may use it (``ordered``, ``membership``,
``text_literals``), which cases the branch checks try (``branch_values``,
``refine``, ``bounds``), how durable-rules holds it (``flatten``), and what
values a client sends (``samples`` for the tests, ``example`` for the
benchmarks).  A new type is one more class here and its name in
``schema.FactType``; ``tests/engine/test_language.py`` runs every type through
every backend.

Messages about a value never repeat it (see ``case``): they name the declared range,
values or shape instead.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..errors import did_you_mean

if TYPE_CHECKING:  # schema parses conditions with this package: a runtime import would be circular
    from ..schema import FactSpec

Problems = MutableMapping[str, str]
# Reads one object of the given fields at a path, recording its problems; returns it normalized.
ReadObject = Callable[["Mapping[str, FactSpec]", Any, str], dict[str, Any]]


class PlanWriter(Protocol):
    """What a type's ``plan`` may ask of the normaliser being generated (``case._Plan``)."""

    def constant(self, value: Any) -> str:
        """A name the generated source reads ``value`` under."""
        ...

    def function(self, fields: Mapping[str, FactSpec]) -> str:
        """The name of the generated reader of an object of ``fields``."""
        ...


def json_value(value: Any) -> Any:
    """A value as durable-rules (JSON) holds it: dates as ISO text."""
    return value.isoformat() if isinstance(value, dt.date) else value


def _suggestion(value: Any, values: list[str]) -> str:
    """A declared value close to a text that was sent; nothing for anything else."""
    return did_you_mean(value, values) if isinstance(value, str) else ""


class FactType(ABC):
    """What a fact type means; the methods without a default are what every type must say."""

    name: ClassVar[str]
    needs: ClassVar[tuple[str, ...]] = ()  # keys of its declaration (``FactSpec``) no other type takes
    ordered: ClassVar[bool] = False  # '<', '<=', '>', '>=' apply
    membership: ClassVar[bool] = False  # the right side of 'in': holds declared values
    enumerated: ClassVar[bool] = False  # holds one of its declared values: a value compared with it must be one
    listed: ClassVar[bool] = False  # may be tested against a list of values: 'x in [..]'
    text_literals: ClassVar[bool] = False  # its values are written as text in a condition
    dotted: ClassVar[bool] = False  # its fields are named 'fact.field'
    quantified: ClassVar[bool] = False  # any(), all() and count() range over its items

    # --- normalisation -----------------------------------------------------------------

    def default(self, spec: FactSpec, path: str, read: ReadObject) -> Any:
        """The value of a fact that was not sent (the declared default)."""
        return None

    @abstractmethod
    def normalize(self, spec: FactSpec, value: Any, path: str, problems: Problems, read: ReadObject) -> Any:
        """``value`` (never None) checked and in its one shape; what is wrong goes to ``problems[path]``."""

    @abstractmethod
    def plan(self, v: str, spec: FactSpec, writer: PlanWriter) -> list[str]:
        """Generated lines that leave the normalized value in the variable ``v`` or raise ``_Unusual``
        (anything not plainly right goes to ``normalize``, so both give the same result)."""

    # --- the branch checks ---------------------------------------------------------------

    def branch_values(self, spec: FactSpec) -> list[Any] | None:
        """The cases to try for a fact of this type before comparisons add theirs; None: not decided."""
        return None

    def bounds(self, spec: FactSpec) -> tuple[int, int] | None:
        """The range a number read from the fact lies in (its value, or the count of its items)."""
        return None

    def refine(self, current: list[Any], value: Any, bounds: tuple[int, int] | None) -> list[Any]:
        """``current`` cases plus those a comparison with ``value`` tells apart: for numbers the
        value and its neighbours, within ``bounds``."""
        values = value if isinstance(value, tuple) else (value,)
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if not numbers:
            return current
        extra = {near for v in numbers for near in (v - 1, v, v + 1)}
        low, high = bounds if bounds is not None else (min(extra), max(extra))
        refined: list[Any] = sorted({v for v in current if v is not None} | {v for v in extra if low <= v <= high})
        return [None, *refined] if None in current else refined

    # --- durable-rules -------------------------------------------------------------------

    def flatten(self, out: dict[str, Any], key: str, spec: FactSpec, value: Any) -> None:
        """Put the normalized ``value`` into the flat durable-rules fact ``out``, under ``key``."""
        if value is not None:
            out[key] = json_value(value)

    # --- values clients send ----------------------------------------------------------------

    @abstractmethod
    def samples(self, spec: FactSpec) -> list[Any]:
        """A few values a client may send, None (not sent) first, every case the type distinguishes."""

    @abstractmethod
    def example(self, spec: FactSpec, rng: random.Random, around: dt.date) -> Any:
        """A random value, as a realistic mix of cases draws them (``bench/workload.py``)."""


class Boolean(FactType):
    name = "boolean"

    def default(self, spec: FactSpec, path: str, read: ReadObject) -> Any:
        return False

    def normalize(self, spec: FactSpec, value: Any, path: str, problems: Problems, read: ReadObject) -> Any:
        if not isinstance(value, bool):
            problems[path] = "expected true or false"
        return value

    def plan(self, v: str, spec: FactSpec, writer: PlanWriter) -> list[str]:
        return [f"    if {v} is None:", f"        {v} = False", f"    elif type({v}) is not bool:", "        raise _Unusual"]

    def branch_values(self, spec: FactSpec) -> list[Any] | None:
        return [False, True]

    def samples(self, spec: FactSpec) -> list[Any]:
        return [None, False, True]

    def example(self, spec: FactSpec, rng: random.Random, around: dt.date) -> Any:
        return rng.random() < 0.3


class Integer(FactType):
    name = "integer"
    listed = True
    needs = ("min", "max")
    ordered = True
    # Ages, months and counts a realistic mix draws from, each kept inside the fact's range.
    EXAMPLES = (4, 9, 14, 16, 17, 19, 23, 31, 38, 45, 52, 66, 71, 84)

    def normalize(self, spec: FactSpec, value: Any, path: str, problems: Problems, read: ReadObject) -> Any:
        low, high = spec.bounds
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            problems[path] = f"expected a whole number from {low} to {high}"
        return value

    def plan(self, v: str, spec: FactSpec, writer: PlanWriter) -> list[str]:
        low, high = spec.bounds
        return [f"    if {v} is not None and (type({v}) is not int or not {low} <= {v} <= {high}):", "        raise _Unusual"]

    def branch_values(self, spec: FactSpec) -> list[Any] | None:
        return [None, *sorted(set(spec.bounds))]

    def bounds(self, spec: FactSpec) -> tuple[int, int] | None:
        return spec.bounds

    def samples(self, spec: FactSpec) -> list[Any]:
        low, high = spec.bounds
        return [None, *sorted({low, (low + high) // 2, high})]

    def example(self, spec: FactSpec, rng: random.Random, around: dt.date) -> Any:
        low, high = spec.bounds  # facts outside the declared range are refused, not decided
        return rng.choice([n for n in self.EXAMPLES if low <= n <= high] or [low])


class Enum(FactType):
    name = "enum"
    enumerated = True
    listed = True
    needs = ("values",)

    def normalize(self, spec: FactSpec, value: Any, path: str, problems: Problems, read: ReadObject) -> Any:
        values = spec.values or []
        if value not in values:
            problems[path] = f"expected one of {', '.join(values)}{_suggestion(value, values)}"
        return value

    def plan(self, v: str, spec: FactSpec, writer: PlanWriter) -> list[str]:
        allowed = writer.constant(frozenset(spec.values or ()))
        return [f"    if {v} is not None and {v} not in {allowed}:", "        raise _Unusual"]

    def branch_values(self, spec: FactSpec) -> list[Any] | None:
        return [None, *(spec.values or [])]

    def samples(self, spec: FactSpec) -> list[Any]:
        return [None, *(spec.values or [])]

    def example(self, spec: FactSpec, rng: random.Random, around: dt.date) -> Any:
        return rng.choice(spec.values or [])


class Set(FactType):
    name = "set"
    needs = ("values",)
    membership = True

    def default(self, spec: FactSpec, path: str, read: ReadObject) -> Any:
        return frozenset()

    def normalize(self, spec: FactSpec, value: Any, path: str, problems: Problems, read: ReadObject) -> Any:
        values = spec.values or []
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

    def plan(self, v: str, spec: FactSpec, writer: PlanWriter) -> list[str]:
        allowed = writer.constant(frozenset(spec.values or ()))
        return [
            f"    if {v} is None:",
            f"        {v} = EMPTY",
            f"    elif type({v}) in SEQUENCES and {allowed}.issuperset({v}):",
            f"        {v} = frozenset({v})",
            "    else:",
            "        raise _Unusual",
        ]

    def branch_values(self, spec: FactSpec) -> list[Any] | None:
        return [frozenset()]  # the values conditions test are added by refine

    def refine(self, current: list[Any], value: Any, bounds: tuple[int, int] | None) -> list[Any]:
        """Every combination of the values tested so far."""
        values = value if isinstance(value, tuple) else (value,)
        tested = set().union(*current) | set(values)
        subsets = itertools.chain.from_iterable(itertools.combinations(sorted(tested), n) for n in range(len(tested) + 1))
        return [frozenset(s) for s in subsets]

    def flatten(self, out: dict[str, Any], key: str, spec: FactSpec, value: Any) -> None:
        # durable-rules has no set membership: one flag per declared value.
        present = value or ()
        for v in spec.values or []:
            out[f"{key}__{v}"] = v in present

    def samples(self, spec: FactSpec) -> list[Any]:
        values = spec.values or []
        return [None, [], *([v] for v in values), list(values)]

    def example(self, spec: FactSpec, rng: random.Random, around: dt.date) -> Any:
        values = spec.values or []
        return rng.sample(values, rng.randint(0, min(3, len(values))))


class Date(FactType):
    name = "date"
    ordered = True
    text_literals = True  # 'YYYY-MM-DD'

    def normalize(self, spec: FactSpec, value: Any, path: str, problems: Problems, read: ReadObject) -> Any:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            problems[path] = "expected a date, YYYY-MM-DD"
            return None

    def plan(self, v: str, spec: FactSpec, writer: PlanWriter) -> list[str]:
        return [
            f"    if {v} is not None and type({v}) is not date:",
            f"        if type({v}) is str:",
            f"            {v} = fromisoformat({v})",
            f"        elif type({v}) is datetime:",
            f"            {v} = {v}.date()",
            "        else:",
            "            raise _Unusual",
        ]

    def samples(self, spec: FactSpec) -> list[Any]:
        return [None, "2025-03-03", dt.date(2025, 3, 4), dt.datetime(2025, 3, 5, 10, 0)]

    def example(self, spec: FactSpec, rng: random.Random, around: dt.date) -> Any:
        return (around + dt.timedelta(days=rng.randint(-20, 60))).isoformat()


class Object(FactType):
    name = "object"
    dotted = True
    needs = ("fields",)

    def default(self, spec: FactSpec, path: str, read: ReadObject) -> Any:
        return read(spec.fields or {}, {}, path)  # a missing object still has its fields' defaults

    def normalize(self, spec: FactSpec, value: Any, path: str, problems: Problems, read: ReadObject) -> Any:
        return read(spec.fields or {}, value, path)

    def plan(self, v: str, spec: FactSpec, writer: PlanWriter) -> list[str]:
        read = writer.function(spec.fields or {})
        return [f"    {v} = {read}({{}} if {v} is None else {v})"]

    def flatten(self, out: dict[str, Any], key: str, spec: FactSpec, value: Any) -> None:
        # A nested path whose parent is missing never matches in durable-rules: one key per field.
        for field, sub in (spec.fields or {}).items():
            fact_type(sub).flatten(out, f"{key}__{field}", sub, (value or {}).get(field))

    def samples(self, spec: FactSpec) -> list[Any]:
        fields = spec.fields or {}
        return [None, {}, *({name: value} for name, sub in fields.items() for value in fact_type(sub).samples(sub)[1:])]

    def example(self, spec: FactSpec, rng: random.Random, around: dt.date) -> Any:
        return example_facts(spec.fields or {}, rng, around)


class List(FactType):
    name = "list"
    quantified = True
    needs = ("max_items", "fields")

    def default(self, spec: FactSpec, path: str, read: ReadObject) -> Any:
        return []

    def normalize(self, spec: FactSpec, value: Any, path: str, problems: Problems, read: ReadObject) -> Any:
        if not isinstance(value, list):
            problems[path] = "expected a list"
            return []
        if len(value) > (spec.max_items or 0):
            # Nothing of a list longer than the process allows is read: each item costs work.
            problems[path] = f"expected at most {spec.max_items} {path.rsplit('.', 1)[-1]}"
            return []
        return [read(spec.fields or {}, item, f"{path}[{i}]") for i, item in enumerate(value)]

    def plan(self, v: str, spec: FactSpec, writer: PlanWriter) -> list[str]:
        read = writer.function(spec.fields or {})
        return [
            f"    if {v} is None:",
            f"        {v} = []",
            f"    elif type({v}) is list and len({v}) <= {int(spec.max_items or 0)}:",
            f"        {v} = [{read}(item) for item in {v}]",
            "    else:",
            "        raise _Unusual",
        ]

    def bounds(self, spec: FactSpec) -> tuple[int, int] | None:
        return 0, spec.max_items or 0  # of its count

    def flatten(self, out: dict[str, Any], key: str, spec: FactSpec, value: Any) -> None:
        items = value or []
        # Only the declared fields: nothing in an element can pass for a key of our own (``_ci``).
        fields = spec.fields or {}
        out[key] = [{k: json_value(item[k]) for k in fields if item.get(k) is not None} for item in items]
        # $iall over an empty list is false in durable-rules: all() also reads the count.
        out[key + "__count"] = len(items)

    def samples(self, spec: FactSpec) -> list[Any]:
        items = Object().samples(spec)[1:]
        longest = spec.max_items or 0
        return [None, [], *([item] for item in items), items[:longest]]

    def example(self, spec: FactSpec, rng: random.Random, around: dt.date) -> Any:
        return [example_facts(spec.fields or {}, rng, around) for _ in range(rng.choice([0, 0, 1, 1, 2, 3]))]


FACT_TYPES: dict[str, FactType] = {t.name: t for t in (Boolean(), Integer(), Enum(), Set(), Date(), Object(), List())}


# The keys some types need, in the order a declaration is checked: what is said when a type
# that needs them lacks them, and when another type gives them.
_KEYS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("min", "max"), "every {type} fact declares its range: give 'min' and 'max'", "'min' and 'max' belong to {owners} facts"),
    (
        ("max_items",),
        "every {type} fact declares how many items it may hold: give 'max_items'",
        "'max_items' belongs to {owners} facts",
    ),
    (("values",), "a {type} fact needs 'values'", "'values' belongs to {owners} facts"),
    (("fields",), "a {type} fact needs 'fields'", "'fields' belongs to {owners} facts"),
)


def declaration_problem(spec: FactSpec) -> str | None:
    """What is wrong with a fact's declaration (``schema.FactSpec``), or None: each type's own keys
    given, no other type's, and an integer's range not upside down."""
    for keys, missing, misplaced in _KEYS:
        owners = [t.name for t in FACT_TYPES.values() if keys[0] in t.needs]
        given = [getattr(spec, key) for key in keys]
        if spec.type in owners and any(value is None or value in ([], {}) for value in given):
            return missing.format(type=spec.type)
        if spec.type not in owners and any(value is not None for value in given):
            return f"{misplaced.format(owners=' and '.join(owners))}, not {spec.type}"
        if keys == ("min", "max") and spec.min is not None and spec.max is not None and spec.min > spec.max:
            return "'min' is greater than 'max'"
    return None


def fact_type(spec: FactSpec) -> FactType:
    return FACT_TYPES[spec.type]


def example_facts(fields: Mapping[str, FactSpec], rng: random.Random, around: dt.date) -> dict[str, Any]:
    """Random facts of ``fields``, each sent seven times in ten: missing facts are part of the mix."""
    return {name: fact_type(spec).example(spec, rng, around) for name, spec in fields.items() if rng.random() < 0.7}
