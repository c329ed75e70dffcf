"""The durable-rules backend: a condition as durable-rules' JSON rule form, and facts as its flat fact.

The semantics are those of ``evaluate``: a missing value is absent from the
fact, ``!=`` holds for it, ordering comparisons do not.  durable-rules quirks
met here (2.0.28, measured): a nested path whose parent is missing never
matches, so facts are flattened (``protected_housing__placed``, see
``FactType.flatten``); ``$iall`` over an empty list is false, so ``all()`` also
tests the list's count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import RulesError
from .evaluate import evaluate
from .facttypes import FactType, fact_type, json_value
from .nodes import BoolOp, Compare, Expr, Literal, Name, Not, Otherwise, Quantifier, Visitor

if TYPE_CHECKING:
    from ..schema import FactSpec

Translation = dict[str, Any] | bool  # a JSON test, or a condition that always/never holds


def _key(path: tuple[str, ...]) -> str:
    return "__".join(path)


class Translator(Visitor[Translation]):
    """Condition tree -> durable-rules JSON, in negation normal form.

    ``derived`` collects the values worked out in Python once per case and sent as a
    field (``count(…, body)``, and quantifiers in a per-child rule).
    """

    def __init__(self, derived: dict[str, Expr]) -> None:
        self.derived = derived  # field name -> expression computed in Python
        self.per_child = False  # translating a rule that durable-rules asks of each child's fact
        self.neg = False  # translating the negation of the node
        self.item = False  # inside a quantifier's body: names are the element's fields

    def __call__(self, expr: Expr, neg: bool = False, item: bool = False) -> Translation:
        saved = self.neg, self.item
        self.neg, self.item = neg, item
        try:
            return expr.accept(self)
        finally:
            self.neg, self.item = saved

    def field(self, name: Name, item: bool) -> str:
        if item:
            return "$i." + _key(name.path)
        if name.path[0] == "child":
            return "child__" + _key(name.path[1:])
        return _key(name.path)

    def visit_literal(self, node: Literal) -> Translation:
        return bool(node.value) != self.neg

    def visit_name(self, node: Name) -> Translation:
        return {self.field(node, self.item): not self.neg}

    def visit_not(self, node: Not) -> Translation:
        return self(node.operand, not self.neg, self.item)

    def visit_bool_op(self, node: BoolOp) -> Translation:
        parts = [self(o, self.neg, self.item) for o in node.operands]
        conj = (node.op == "and") != self.neg
        return combine("$and" if conj else "$or", parts)

    def visit_otherwise(self, node: Otherwise) -> Translation:
        raise RulesError(f"cannot translate {node}")  # resolved against its siblings, never a rule

    def visit_quantifier(self, node: Quantifier) -> Translation:
        neg, item = self.neg, self.item
        if node.kind == "count" or node.body is None:
            raise RulesError(f"{node} is a number, not a condition")
        if self.per_child and not item:
            # The case's list in every child's fact would make a decision's cost grow with the
            # square of the children: the quantifier is worked out once per case instead.
            return {self.derived_key(node): not neg}
        lst = self.field(node.collection, item)
        if (node.kind == "any") != neg:  # any(b), or not all(b) == any(not b)
            inner = self(node.body, node.kind == "all", True)
            if isinstance(inner, bool):
                return {"$gt": {lst + "__count": 0}} if inner else False
            return {"$iany": {lst: inner}}
        inner = self(node.body, node.kind == "any", True)  # all(b), or not any(b) == all(not b)
        if inner is True:
            return True
        empty = {lst + "__count": 0}
        return empty if inner is False else {"$or": [empty, {"$iall": {lst: inner}}]}

    def operand_key(self, expr: Expr, item: bool) -> str | None:
        if isinstance(expr, Name):
            return self.field(expr, item)
        if isinstance(expr, Quantifier) and expr.kind == "count":
            if expr.body is None:
                return self.field(expr.collection, item) + "__count"
            return self.derived_key(expr)
        return None

    def derived_key(self, expr: Expr) -> str:
        """The field holding ``expr``'s value, worked out in Python for the case."""
        for existing, e in self.derived.items():
            if e == expr:
                return existing
        key = f"derived__{len(self.derived)}"
        self.derived[key] = expr
        return key

    def visit_compare(self, node: Compare) -> Translation:
        neg, item = self.neg, self.item
        op, left, right = node.op, node.left, node.right
        if op in ("in", "notin"):
            return self.membership(node, (op == "notin") != neg, item)
        if isinstance(left, Literal) and not isinstance(right, Literal):
            left, right = right, left
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        key = self.operand_key(left, item)
        if key is None or not isinstance(right, Literal):
            if isinstance(left, Literal) and isinstance(right, Literal):
                return bool(evaluate(node, {})) != neg
            raise RulesError(f"'{node}': the rules engine compares a fact with a value only")
        value = json_value(right.value)
        if value is None:
            holds_when_missing = op == "=="
            return {"$nex" if holds_when_missing != neg else "$ex": {key: 1}}
        if op in ("==", "!="):
            equal = (op == "==") != neg
            return {key: value} if equal else {"$or": [{"$nex": {key: 1}}, {"$neq": {key: value}}]}
        if not neg:
            return {_OPS[op]: {key: value}}
        return {"$or": [{"$nex": {key: 1}}, {_OPS[_FLIP[op]]: {key: value}}]}

    def membership(self, c: Compare, negative: bool, item: bool) -> Translation:
        left, right = c.left, c.right
        if isinstance(left, Literal) and isinstance(right, Name) and not item:
            values = left.value if isinstance(left.value, tuple) else (left.value,)
            flags = [{f"{self.field(right, item)}__{v}": not negative} for v in values]
            return combine("$or" if not negative else "$and", flags) if len(values) != 1 else flags[0]
        if isinstance(right, Literal) and isinstance(right.value, tuple):
            key = self.operand_key(left, item)
            if key is None:
                raise RulesError(f"'{c}': the rules engine tests a fact against a list of values only")
            if not negative:
                inside = combine("$or", [{key: json_value(v)} for v in right.value])
            else:
                inside = combine("$and", [{"$ex": {key: 1}}, *[{"$neq": {key: json_value(v)}} for v in right.value]])
            # A missing value is in no list and out of none (evaluate): only a negated test holds for it.
            return combine("$or", [{"$nex": {key: 1}}, inside]) if self.neg else inside
        raise RulesError(f"'{c}': unsupported membership test for the rules engine")


_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_FLIP = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def combine(op: str, parts: Sequence[Translation]) -> Translation:
    """``$and``/``$or`` of ``parts``, with the constant ones folded in."""
    identity = op == "$and"
    kept = [p for p in parts if p is not identity]
    if any(p is (not identity) for p in kept):
        return not identity
    if not kept:
        return identity
    return kept[0] if len(kept) == 1 else {op: kept}


def rule_fields(node: Any, into: set[str]) -> None:
    """Add the fact fields a translated rule reads to ``into``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not key.startswith("$"):
                into.add(key)
            rule_fields(value, into)
    elif isinstance(node, list):
        for item in node:
            rule_fields(item, into)


def flatten_facts(vocabulary: Mapping[str, FactSpec], facts: Mapping[str, Any]) -> dict[str, Any]:
    """Normalized facts as one flat durable-rules fact (no nested objects, sets as flags)."""
    return Flattener(vocabulary)(facts)


class Flattener:
    """``flatten_facts`` for one vocabulary, its fact types looked up once (per process version).

    A fact whose type keeps ``FactType.flatten`` (its value under its name: most facts)
    is copied here instead of through a lookup and a call per fact and per case; the
    keys come out in the same order."""

    def __init__(self, vocabulary: Mapping[str, FactSpec]) -> None:
        plan: list[tuple[str, FactSpec, FactType | None]] = []
        for name, spec in vocabulary.items():
            kind = fact_type(spec)
            plan.append((name, spec, None if type(kind).flatten is FactType.flatten else kind))
        self.plan = tuple(plan)

    def __call__(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, spec, kind in self.plan:
            if kind is not None:
                kind.flatten(out, name, spec, facts.get(name))
                continue
            value = facts.get(name)
            if value is not None:
                out[name] = json_value(value)
        return out
