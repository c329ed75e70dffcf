"""The evaluation backend: a condition's value over plain (normalized) facts; the oracle.

A missing fact is ``none``: ``==``/``!=`` compare it normally, ordering
comparisons and ``in`` with ``none`` are false.  Declared defaults (false for
booleans, empty for sets and lists) are filled in before evaluation, so a
missing boolean is false rather than none.  Every other backend means what
this one computes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .nodes import BoolOp, Compare, Expr, Literal, Name, Not, Otherwise, Quantifier, Visitor


def lookup(facts: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = facts
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


class Evaluator(Visitor[Any]):
    """``item`` is the quantifier's current element, ``child`` the current child of a step repeated per child."""

    def __init__(
        self, facts: Mapping[str, Any], item: Mapping[str, Any] | None = None, child: Mapping[str, Any] | None = None
    ) -> None:
        self.facts = facts
        self.item = item
        self.child = child

    def visit_literal(self, node: Literal) -> Any:
        return node.value

    def visit_name(self, node: Name) -> Any:
        if self.item is not None:
            return lookup(self.item, node.path)
        if node.path[0] == "child" and self.child is not None:
            return lookup(self.child, node.path[1:])
        return lookup(self.facts, node.path)

    def visit_not(self, node: Not) -> Any:
        return not node.operand.accept(self)

    def visit_bool_op(self, node: BoolOp) -> Any:
        results = (bool(o.accept(self)) for o in node.operands)
        return all(results) if node.op == "and" else any(results)

    def visit_compare(self, node: Compare) -> Any:
        return compare_values(node.op, node.left.accept(self), node.right.accept(self))

    def visit_quantifier(self, node: Quantifier) -> Any:
        items = node.collection.accept(self) or ()
        if node.body is None:
            return len(items)
        # The body reads each element in turn; an evaluator per element costs more than the body.
        outer, body = self.item, node.body
        try:
            hits = []
            for element in items:
                self.item = element
                hits.append(bool(body.accept(self)))
        finally:
            self.item = outer
        if node.kind == "any":
            return any(hits)
        if node.kind == "all":
            return all(hits)
        return sum(hits)

    def visit_otherwise(self, node: Otherwise) -> Any:
        raise TypeError(f"cannot evaluate {node!r} directly")  # the caller resolves it against its siblings


def evaluate(
    expr: Expr,
    facts: Mapping[str, Any],
    item: Mapping[str, Any] | None = None,
    child: Mapping[str, Any] | None = None,
) -> Any:
    """Evaluate over plain facts; ``item`` is the quantifier's current element,
    ``child`` the current child of a step repeated per child."""
    return expr.accept(Evaluator(facts, item, child))


def compare_values(op: str, left: Any, right: Any) -> bool:
    """``left op right`` as conditions mean it: none and mistyped values compare false."""
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op in ("in", "notin"):
        if left is None or right is None:
            return False
        try:
            found = left in right
        except TypeError:
            return False
        return found if op == "in" else not found
    if left is None or right is None:
        return False
    try:
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        # Types are checked at load time; facts that arrive mistyped simply do not compare.
        return False
