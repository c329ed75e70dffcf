"""The domains backend: the finitely many cases that decide a gateway's conditions.

For the branch checks (``validate.branch_conditions``): each atom a condition
reads (a fact, ``child.x``, a quantifier) gets the list of values to try, from
its fact type (``FactType.branch_values``) refined by the constants it is
compared with (``FactType.refine``); ``evaluate_case`` then evaluates the
condition for one combination of them.  Dates, objects and lists as values are
not decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .check import children_fields, fact_spec
from .evaluate import Evaluator
from .facttypes import FACT_TYPES, FactType, fact_type
from .nodes import BoolOp, Compare, Expr, Literal, Name, Not, Otherwise, Quantifier, Visitor

if TYPE_CHECKING:
    from ..schema import FactSpec

_INTEGER, _BOOLEAN = FACT_TYPES["integer"], FACT_TYPES["boolean"]


class Domains(Visitor[bool]):
    """Fills ``domains`` (atom -> values to try) for the atoms a condition reads, and
    ``ranges`` for the numbers among them; a visit is False when undecidable."""

    def __init__(self, facts: Mapping[str, FactSpec]) -> None:
        self.facts = facts
        self.domains: dict[str, list[Any]] = {}
        self.ranges: dict[str, tuple[int, int]] = {}
        self.types: dict[str, FactType] = {}

    def add(self, key: str, kind: FactType, values: list[Any], bounds: tuple[int, int] | None) -> None:
        self.types[key] = kind
        self.domains.setdefault(key, values)
        if bounds is not None:
            self.ranges[key] = bounds

    def visit_quantifier(self, node: Quantifier) -> bool:
        key = str(node)
        if node.kind == "count":
            collection = fact_spec(self.facts, node.collection.path)
            longest = collection.max_items if collection is not None and collection.max_items is not None else 0
            self.add(key, _INTEGER, [0, longest], (0, longest))
        else:
            self.types[key] = _BOOLEAN
            self.domains[key] = [False, True]  # its body is one atom: which elements hold is not tried
        return True

    def visit_name(self, node: Name) -> bool:
        if node.path[0] == "child":
            spec = fact_spec(children_fields(self.facts) or {}, node.path[1:])
        else:
            spec = fact_spec(self.facts, node.path)
        if spec is None:
            return False
        kind = fact_type(spec)
        values = kind.branch_values(spec)
        if values is None:
            return False
        self.add(str(node), kind, values, kind.bounds(spec))
        return True

    def visit_literal(self, node: Literal) -> bool:
        return True

    def visit_not(self, node: Not) -> bool:
        return node.operand.accept(self)

    def visit_bool_op(self, node: BoolOp) -> bool:
        return all(o.accept(self) for o in node.operands)

    def visit_compare(self, node: Compare) -> bool:
        if not (node.left.accept(self) and node.right.accept(self)):
            return False
        for atom, value in ((node.left, node.right), (node.right, node.left)):
            key = str(atom)
            if key in self.domains and isinstance(value, Literal):
                self.domains[key] = self.types[key].refine(self.domains[key], value.value, self.ranges.get(key))
        return True

    def visit_otherwise(self, node: Otherwise) -> bool:
        return False


class CaseEvaluator(Evaluator):
    """``evaluate`` with every atom read from the case: one value per fact, quantifier or count."""

    def __init__(self, case: Mapping[str, Any]) -> None:
        super().__init__({})
        self.case = case

    def visit_name(self, node: Name) -> Any:
        return self.case[str(node)]

    def visit_quantifier(self, node: Quantifier) -> Any:
        return self.case[str(node)]


def evaluate_case(expr: Expr, case: Mapping[str, Any]) -> Any:
    """``expr`` for one combination of its atoms' values (``Domains``)."""
    return expr.accept(CaseEvaluator(case))
