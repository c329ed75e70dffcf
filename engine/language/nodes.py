"""The condition tree, and the visitor every backend is written against.

Every node class has an ``accept`` that calls its own ``visit_…`` method of
``Visitor``, and ``Visitor`` declares each of those abstract: a node added here
without a method there is a mypy error, and a backend that does not handle it
cannot be instantiated (mypy says so where it is built; ``tests/engine/
test_language.py`` checks every backend against ``NODES``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Visitor(ABC, Generic[T]):
    """One method per node type; a backend is a subclass giving each a meaning."""

    @abstractmethod
    def visit_name(self, node: Name) -> T: ...

    @abstractmethod
    def visit_literal(self, node: Literal) -> T: ...

    @abstractmethod
    def visit_compare(self, node: Compare) -> T: ...

    @abstractmethod
    def visit_not(self, node: Not) -> T: ...

    @abstractmethod
    def visit_bool_op(self, node: BoolOp) -> T: ...

    @abstractmethod
    def visit_quantifier(self, node: Quantifier) -> T: ...

    @abstractmethod
    def visit_otherwise(self, node: Otherwise) -> T: ...


@dataclass(frozen=True)
class Name:
    path: tuple[str, ...]
    offset: int

    def accept(self, visitor: Visitor[T]) -> T:
        return visitor.visit_name(self)

    def __str__(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Literal:
    value: Any  # str, int, float, bool, None or a tuple of those
    offset: int

    def accept(self, visitor: Visitor[T]) -> T:
        return visitor.visit_literal(self)

    def __str__(self) -> str:
        return literal_text(self.value)


@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >= in notin
    left: Expr
    right: Expr
    offset: int

    def accept(self, visitor: Visitor[T]) -> T:
        return visitor.visit_compare(self)

    def __str__(self) -> str:
        op = "not in" if self.op == "notin" else self.op
        return f"{self.left} {op} {self.right}"


@dataclass(frozen=True)
class Not:
    operand: Expr
    offset: int

    def accept(self, visitor: Visitor[T]) -> T:
        return visitor.visit_not(self)

    def __str__(self) -> str:
        return f"not {_wrap(self.operand)}"


@dataclass(frozen=True)
class BoolOp:
    op: str  # and / or
    operands: tuple[Expr, ...]
    offset: int

    def accept(self, visitor: Visitor[T]) -> T:
        return visitor.visit_bool_op(self)

    def __str__(self) -> str:
        return f" {self.op} ".join(_wrap(o) for o in self.operands)


@dataclass(frozen=True)
class Quantifier:
    kind: str  # any / all / count
    collection: Name
    body: Expr | None
    offset: int

    def accept(self, visitor: Visitor[T]) -> T:
        return visitor.visit_quantifier(self)

    def __str__(self) -> str:
        body = f", {self.body}" if self.body is not None else ""
        return f"{self.kind}({self.collection}{body})"


@dataclass(frozen=True)
class Otherwise:
    offset: int = 0

    def accept(self, visitor: Visitor[T]) -> T:
        return visitor.visit_otherwise(self)

    def __str__(self) -> str:
        return "otherwise"


Expr = Name | Literal | Compare | Not | BoolOp | Quantifier | Otherwise
NODES: tuple[type[Expr], ...] = (Name, Literal, Compare, Not, BoolOp, Quantifier, Otherwise)


def _wrap(expr: Expr) -> str:
    return f"({expr})" if isinstance(expr, BoolOp) else str(expr)


def literal_text(value: Any) -> str:
    """A value as the condition language writes it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(literal_text(v) for v in value) + "]"
    return str(value)
