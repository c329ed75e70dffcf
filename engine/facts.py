"""The facts vocabulary: resolves the names a condition uses and types the condition.

Used by loading (the central file) and validation (a merged district process):
a condition may only name declared facts, compare them with values of their
type, and test enum and set facts against their declared values, so a typo in
``risk_level == 'hgih'`` is an error at load time with a suggestion, never a
branch that silently stays closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .conditions import BoolOp, Compare, Expr, Literal, Name, Not, Otherwise, Quantifier
from .errors import did_you_mean
from .schema import FactSpec

CHILDREN = "children"  # the list fact a `for_each: child` step repeats over


@dataclass(frozen=True)
class _Type:
    kind: str  # boolean integer enum set date object list text none values
    values: tuple[str, ...] = ()
    spec: FactSpec | None = None
    label: str = ""


class _TypeError(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def check_condition(
    expr: Expr,
    facts: Mapping[str, FactSpec],
    per_child: bool = False,
) -> list[tuple[int, str]]:
    """Problems in ``expr`` as ``(offset, message)``; empty when it is well typed."""
    try:
        result = _infer(expr, facts, None, per_child)
        if result.kind != "boolean":
            raise _TypeError(_offset(expr), f"{_describe(expr, result)} is not a yes/no condition")
    except _TypeError as exc:
        return [(exc.offset, exc.message)]
    return []


def fact_spec(facts: Mapping[str, FactSpec], path: tuple[str, ...]) -> FactSpec | None:
    """The declared spec of ``a.b.c``, or None."""
    spec: FactSpec | None = None
    scope: Mapping[str, FactSpec] | None = facts
    for part in path:
        if scope is None or part not in scope:
            return None
        spec = scope[part]
        scope = spec.fields
    return spec


def children_fields(facts: Mapping[str, FactSpec]) -> Mapping[str, FactSpec] | None:
    spec = facts.get(CHILDREN)
    return spec.fields if spec is not None and spec.type == "list" else None


def _offset(expr: Expr) -> int:
    return expr.offset


def _describe(expr: Expr, t: _Type) -> str:
    return f"'{expr}' ({t.kind})"


def _infer(
    expr: Expr,
    facts: Mapping[str, FactSpec],
    item: Mapping[str, FactSpec] | None,
    per_child: bool,
) -> _Type:
    if isinstance(expr, Otherwise):
        return _Type("boolean")
    if isinstance(expr, Literal):
        return _literal_type(expr.value)
    if isinstance(expr, Name):
        return _resolve(expr, facts, item, per_child)
    if isinstance(expr, Not):
        _boolean(expr.operand, facts, item, per_child)
        return _Type("boolean")
    if isinstance(expr, BoolOp):
        for operand in expr.operands:
            _boolean(operand, facts, item, per_child)
        return _Type("boolean")
    if isinstance(expr, Quantifier):
        collection = _resolve(expr.collection, facts, item, per_child)
        if collection.kind != "list" or collection.spec is None or collection.spec.fields is None:
            raise _TypeError(expr.collection.offset, f"{expr.kind}() needs a list fact, '{expr.collection}' is {collection.kind}")
        if expr.body is not None:
            _boolean(expr.body, facts, collection.spec.fields, per_child)
        return _Type("integer" if expr.kind == "count" else "boolean")
    if isinstance(expr, Compare):
        _compare(expr, facts, item, per_child)
        return _Type("boolean")
    raise AssertionError(f"unknown node {expr!r}")


def _boolean(expr: Expr, facts: Mapping[str, FactSpec], item: Mapping[str, FactSpec] | None, per_child: bool) -> None:
    t = _infer(expr, facts, item, per_child)
    if t.kind != "boolean":
        raise _TypeError(expr.offset, f"{_describe(expr, t)} is not a yes/no condition; compare it with a value")


def _literal_type(value: object) -> _Type:
    if value is None:
        return _Type("none")
    if isinstance(value, bool):
        return _Type("boolean")
    if isinstance(value, int | float):
        return _Type("integer")
    if isinstance(value, str):
        return _Type("text", (value,))
    if isinstance(value, tuple):
        return _Type("values", tuple(str(v) for v in value))
    raise AssertionError(value)


def _resolve(name: Name, facts: Mapping[str, FactSpec], item: Mapping[str, FactSpec] | None, per_child: bool) -> _Type:
    path = name.path
    if item is not None:
        scope: Mapping[str, FactSpec] = item
        where = "a list item"
    elif path[0] == "child":
        fields = children_fields(facts)
        if not per_child or fields is None:
            raise _TypeError(name.offset, "'child.' can only be used in a step repeated per child (for_each: child)")
        scope, path, where = fields, path[1:], "a child"
        if not path:
            raise _TypeError(name.offset, "name a field of the child, e.g. child.age")
    else:
        scope, where = facts, "the facts vocabulary"
    spec: FactSpec | None = None
    for depth, part in enumerate(path):
        if part not in scope:
            shown = ".".join(path[: depth + 1])
            raise _TypeError(
                name.offset,
                f"unknown fact '{shown}' (not in {where}){did_you_mean(part, scope)}",
            )
        spec = scope[part]
        if depth < len(path) - 1:
            if spec.type != "object" or spec.fields is None:
                raise _TypeError(name.offset, f"'{'.'.join(path[: depth + 1])}' is {spec.type}, it has no fields")
            scope = spec.fields
    assert spec is not None
    return _Type(spec.type, tuple(spec.values or ()), spec, spec.label)


_ORDERED = {"integer", "date"}


def _compare(expr: Compare, facts: Mapping[str, FactSpec], item: Mapping[str, FactSpec] | None, per_child: bool) -> None:
    left = _infer(expr.left, facts, item, per_child)
    right = _infer(expr.right, facts, item, per_child)
    op = expr.op
    if op in ("in", "notin"):
        if right.kind == "set":
            _values_allowed(expr.left, left, right, expr)
            return
        if right.kind == "values" and left.kind in ("enum", "text", "integer"):
            if left.kind == "enum":
                for value in right.values:
                    _value_allowed(value, left, expr.right.offset)
            return
        raise _TypeError(expr.offset, f"'in' needs a set fact or a list of values on its right, found {right.kind}")
    if "none" in (left.kind, right.kind):
        if op not in ("==", "!="):
            raise _TypeError(expr.offset, f"'{op}' cannot compare with none")
        return
    if op in ("<", "<=", ">", ">="):
        if left.kind not in _ORDERED or (left.kind != right.kind and not (left.kind == "date" and right.kind == "text")):
            raise _TypeError(expr.offset, f"'{op}' compares numbers or dates, not {left.kind} and {right.kind}")
        return
    # == and !=
    for fact_side, value_side, value_expr in ((left, right, expr.right), (right, left, expr.left)):
        if fact_side.kind == "enum" and value_side.kind == "text":
            _value_allowed(value_side.values[0], fact_side, value_expr.offset)
            return
    if left.kind != right.kind and {left.kind, right.kind} != {"date", "text"}:
        raise _TypeError(expr.offset, f"cannot compare {left.kind} with {right.kind} in '{expr}'")


def _values_allowed(left_expr: Expr, left: _Type, set_type: _Type, expr: Compare) -> None:
    if left.kind == "text":
        _value_allowed(left.values[0], set_type, left_expr.offset)
    elif left.kind == "values":
        for value in left.values:
            _value_allowed(value, set_type, left_expr.offset)
    elif left.kind != "enum":
        raise _TypeError(expr.offset, f"a set holds values, not {left.kind}")


def _value_allowed(value: str, t: _Type, offset: int) -> None:
    if value not in t.values:
        allowed = ", ".join(t.values)
        raise _TypeError(
            offset,
            f"'{value}' is not a value of {t.label or t.kind} ({allowed}){did_you_mean(value, t.values)}",
        )
