"""Moved to ``engine.language``: the names of the condition language's old home, while importers move."""

from .language import (
    BoolOp,
    Compare,
    ConditionSyntaxError,
    Expr,
    Literal,
    Name,
    Not,
    Otherwise,
    Quantifier,
    evaluate,
    lookup,
    parse_condition,
)

__all__ = [
    "BoolOp",
    "Compare",
    "ConditionSyntaxError",
    "Expr",
    "Literal",
    "Name",
    "Not",
    "Otherwise",
    "Quantifier",
    "evaluate",
    "lookup",
    "parse_condition",
]
