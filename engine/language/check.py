"""The type-checking backend: a condition against the declared facts.

Used by loading (the central file) and validation (a merged district process):
a condition may only name declared facts, compare them with values of their
type, and test enum and set facts against their declared values, so a typo in
``risk_level == 'hgih'`` is an error at load time with a suggestion, never a
branch that silently stays closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import did_you_mean
from .facttypes import FACT_TYPES
from .nodes import BoolOp, Compare, Expr, Literal, Name, Not, Otherwise, Quantifier, Visitor

if TYPE_CHECKING:
    from ..schema import FactSpec

CHILDREN = "children"  # the list fact a `for_each: child` step repeats over


@dataclass(frozen=True)
class _Type:
    kind: str  # a fact type's name, or of a literal: text none values
    values: tuple[str, ...] = ()
    spec: FactSpec | None = None
    label: str = ""


_BOOLEAN = _Type("boolean")
_ORDERED = {name for name, t in FACT_TYPES.items() if t.ordered}
_TEXT_LITERALS = {name for name, t in FACT_TYPES.items() if t.text_literals}
_MEMBERSHIP = {name for name, t in FACT_TYPES.items() if t.membership}
_ENUMERATED = {name for name, t in FACT_TYPES.items() if t.enumerated}
_LISTED = {name for name, t in FACT_TYPES.items() if t.listed} | {"text"}
_DOTTED = {name for name, t in FACT_TYPES.items() if t.dotted}
_QUANTIFIED = {name for name, t in FACT_TYPES.items() if t.quantified}


class _TypeError(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def check_condition(expr: Expr, facts: Mapping[str, FactSpec], per_child: bool = False) -> list[tuple[int, str]]:
    """Problems in ``expr`` as ``(offset, message)``; empty when it is well typed."""
    try:
        result = expr.accept(TypeChecker(facts, None, per_child))
        if result.kind != "boolean":
            raise _TypeError(expr.offset, f"{_describe(expr, result)} is not a yes/no condition")
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
    return spec.fields if spec is not None and spec.type in _QUANTIFIED else None


def _describe(expr: Expr, t: _Type) -> str:
    return f"'{expr}' ({t.kind})"


class TypeChecker(Visitor[_Type]):
    """The type of each node; raises ``_TypeError`` at the first problem.  ``item`` is the
    fields of a quantifier's element while checking its body."""

    def __init__(self, facts: Mapping[str, FactSpec], item: Mapping[str, FactSpec] | None, per_child: bool) -> None:
        self.facts = facts
        self.item = item
        self.per_child = per_child

    def visit_otherwise(self, node: Otherwise) -> _Type:
        return _BOOLEAN

    def visit_literal(self, node: Literal) -> _Type:
        value = node.value
        if value is None:
            return _Type("none")
        if isinstance(value, bool):
            return _BOOLEAN
        if isinstance(value, int | float):
            return _Type("integer")
        if isinstance(value, str):
            return _Type("text", (value,))
        return _Type("values", tuple(str(v) for v in value))

    def visit_not(self, node: Not) -> _Type:
        self.boolean(node.operand)
        return _BOOLEAN

    def visit_bool_op(self, node: BoolOp) -> _Type:
        for operand in node.operands:
            self.boolean(operand)
        return _BOOLEAN

    def visit_quantifier(self, node: Quantifier) -> _Type:
        collection = node.collection.accept(self)
        if collection.kind not in _QUANTIFIED or collection.spec is None or collection.spec.fields is None:
            raise _TypeError(node.collection.offset, f"{node.kind}() needs a list fact, '{node.collection}' is {collection.kind}")
        if node.body is not None:
            TypeChecker(self.facts, collection.spec.fields, self.per_child).boolean(node.body)
        return _Type("integer" if node.kind == "count" else "boolean")

    def boolean(self, expr: Expr) -> None:
        t = expr.accept(self)
        if t.kind != "boolean":
            raise _TypeError(expr.offset, f"{_describe(expr, t)} is not a yes/no condition; compare it with a value")

    def visit_name(self, node: Name) -> _Type:
        path = node.path
        if self.item is not None:
            scope: Mapping[str, FactSpec] = self.item
            where = "a list item"
        elif path[0] == "child":
            fields = children_fields(self.facts)
            if not self.per_child or fields is None:
                raise _TypeError(node.offset, "'child.' can only be used in a step repeated per child (for_each: child)")
            scope, path, where = fields, path[1:], "a child"
            if not path:
                raise _TypeError(node.offset, "name a field of the child, e.g. child.age")
        else:
            scope, where = self.facts, "the facts vocabulary"
        spec: FactSpec | None = None
        for depth, part in enumerate(path):
            if part not in scope:
                shown = ".".join(path[: depth + 1])
                raise _TypeError(node.offset, f"unknown fact '{shown}' (not in {where}){did_you_mean(part, scope)}")
            spec = scope[part]
            if depth < len(path) - 1:
                if spec.type not in _DOTTED or spec.fields is None:
                    raise _TypeError(node.offset, f"'{'.'.join(path[: depth + 1])}' is {spec.type}, it has no fields")
                scope = spec.fields
        assert spec is not None
        return _Type(spec.type, tuple(spec.values or ()), spec, spec.label)

    def visit_compare(self, node: Compare) -> _Type:
        left, right, op = node.left.accept(self), node.right.accept(self), node.op
        if op in ("in", "notin"):
            _membership(node, left, right)
        elif "none" in (left.kind, right.kind):
            if op not in ("==", "!="):
                raise _TypeError(node.offset, f"'{op}' cannot compare with none")
        elif op in ("<", "<=", ">", ">="):
            as_text = left.kind in _TEXT_LITERALS and right.kind == "text"
            if left.kind not in _ORDERED or (left.kind != right.kind and not as_text):
                raise _TypeError(node.offset, f"'{op}' compares numbers or dates, not {left.kind} and {right.kind}")
        else:
            _equality(node, left, right)
        return _BOOLEAN


def _membership(node: Compare, left: _Type, right: _Type) -> None:
    if right.kind in _MEMBERSHIP:
        _values_allowed(node.left, left, right, node)
        return
    if right.kind == "values" and left.kind in _LISTED:
        if left.kind in _ENUMERATED:
            for value in right.values:
                _value_allowed(value, left, node.right.offset)
        return
    raise _TypeError(node.offset, f"'in' needs a set fact or a list of values on its right, found {right.kind}")


def _equality(node: Compare, left: _Type, right: _Type) -> None:
    for fact_side, value_side, value_expr in ((left, right, node.right), (right, left, node.left)):
        if fact_side.kind in _ENUMERATED and value_side.kind == "text":
            _value_allowed(value_side.values[0], fact_side, value_expr.offset)
            return
    text_pair = any({left.kind, right.kind} == {kind, "text"} for kind in _TEXT_LITERALS)
    if left.kind != right.kind and not text_pair:
        raise _TypeError(node.offset, f"cannot compare {left.kind} with {right.kind} in '{node}'")


def _values_allowed(left_expr: Expr, left: _Type, set_type: _Type, expr: Compare) -> None:
    if left.kind == "text":
        _value_allowed(left.values[0], set_type, left_expr.offset)
    elif left.kind == "values":
        for value in left.values:
            _value_allowed(value, set_type, left_expr.offset)
    elif left.kind not in _ENUMERATED:
        raise _TypeError(expr.offset, f"a set holds values, not {left.kind}")


def _value_allowed(value: str, t: _Type, offset: int) -> None:
    if value not in t.values:
        allowed = ", ".join(t.values)
        raise _TypeError(offset, f"'{value}' is not a value of {t.label or t.kind} ({allowed}){did_you_mean(value, t.values)}")
