"""The condition language: parsed once, when a process file is loaded.

Input: the text of a ``when:`` (or ``for_each_when:``) in a process file.
Output: an immutable AST that the engine evaluates over a client's facts and
that later stages translate (to durable-rules, to BPMN documentation).

Grammar (keywords are lower case)::

    expr     := or
    or       := and ('or' and)*
    and      := not ('and' not)*
    not      := 'not' not | compare
    compare  := operand [('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not' 'in') operand]
    operand  := literal | name | call | '(' expr ')'
    call     := ('any'|'all'|'count') '(' name [',' expr] ')'
    name     := ident ('.' ident)*
    literal  := number | 'text' | "text" | true | false | none | '[' literal, … ']'

``any(children, age >= 6)`` evaluates its second argument once per item, with
the item's fields as bare names.  In a step repeated per child, ``child.age``
names the current child.  The word ``otherwise`` alone is a condition that
holds when no sibling transition's condition holds.

A missing fact is ``none``: ``==``/``!=`` compare it normally, ordering
comparisons and ``in`` with ``none`` are false.  Declared defaults (false for
booleans, empty for sets and lists) are filled in before evaluation, so a
missing boolean is false rather than none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import BrytUppError


class ConditionSyntaxError(BrytUppError, ValueError):
    """A condition that does not parse; ``offset`` is 0-based within the text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# --- AST -------------------------------------------------------------------


@dataclass(frozen=True)
class Name:
    path: tuple[str, ...]
    offset: int

    def __str__(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Literal:
    value: Any  # str, int, float, bool, None or a tuple of those
    offset: int

    def __str__(self) -> str:
        return _literal_text(self.value)


@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >= in notin
    left: Expr
    right: Expr
    offset: int

    def __str__(self) -> str:
        op = "not in" if self.op == "notin" else self.op
        return f"{self.left} {op} {self.right}"


@dataclass(frozen=True)
class Not:
    operand: Expr
    offset: int

    def __str__(self) -> str:
        return f"not {_wrap(self.operand)}"


@dataclass(frozen=True)
class BoolOp:
    op: str  # and / or
    operands: tuple[Expr, ...]
    offset: int

    def __str__(self) -> str:
        return f" {self.op} ".join(_wrap(o) for o in self.operands)


@dataclass(frozen=True)
class Quantifier:
    kind: str  # any / all / count
    collection: Name
    body: Expr | None
    offset: int

    def __str__(self) -> str:
        body = f", {self.body}" if self.body is not None else ""
        return f"{self.kind}({self.collection}{body})"


@dataclass(frozen=True)
class Otherwise:
    offset: int = 0

    def __str__(self) -> str:
        return "otherwise"


Expr = Name | Literal | Compare | Not | BoolOp | Quantifier | Otherwise


def _wrap(expr: Expr) -> str:
    return f"({expr})" if isinstance(expr, BoolOp) else str(expr)


def _literal_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_literal_text(v) for v in value) + "]"
    return str(value)


# --- tokenizer -------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "in", "true", "false", "none", "any", "all", "count"}
QUANTIFIERS = ("any", "all", "count")


@dataclass(frozen=True)
class _Token:
    kind: str  # number string op name keyword end
    text: str
    offset: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            char = text[pos]
            hint = " (text values are quoted: 'high')" if char in "'\"" else ""
            if char == "=":
                hint = " (compare with ==)"
            raise ConditionSyntaxError(f"unexpected character {char!r}{hint}", pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            word = m.group()
            if kind == "name" and word in KEYWORDS:
                kind = "keyword"
            tokens.append(_Token(kind, word, pos))
        pos = m.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# --- parser ----------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, text: str) -> bool:
        return self.tok.kind in ("op", "keyword") and self.tok.text == text

    def expect(self, text: str) -> _Token:
        if not self.at(text):
            raise self.error(f"expected '{text}'")
        return self.take()

    def error(self, message: str) -> ConditionSyntaxError:
        found = "end of condition" if self.tok.kind == "end" else f"'{self.tok.text}'"
        return ConditionSyntaxError(f"{message}, found {found}", self.tok.offset)

    def parse(self) -> Expr:
        if self.tok.kind == "end":
            raise ConditionSyntaxError("empty condition", 0)
        expr = self.parse_or()
        if self.tok.kind != "end":
            raise self.error("expected 'and', 'or' or the end of the condition")
        return expr

    def parse_or(self) -> Expr:
        return self._bool("or", self.parse_and)

    def parse_and(self) -> Expr:
        return self._bool("and", self.parse_not)

    def _bool(self, op: str, sub: Any) -> Expr:
        start = self.tok.offset
        items = [sub()]
        while self.at(op):
            self.take()
            items.append(sub())
        return items[0] if len(items) == 1 else BoolOp(op, tuple(items), start)

    def parse_not(self) -> Expr:
        if self.at("not"):
            start = self.take().offset
            return Not(self.parse_not(), start)
        return self.parse_compare()

    def parse_compare(self) -> Expr:
        left = self.parse_operand()
        tok = self.tok
        if tok.kind == "op" and tok.text in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            return Compare(tok.text, left, self.parse_operand(), tok.offset)
        if self.at("in"):
            self.take()
            return Compare("in", left, self.parse_operand(), tok.offset)
        if self.at("not") and self.tokens[self.i + 1].text == "in":
            self.take()
            self.take()
            return Compare("notin", left, self.parse_operand(), tok.offset)
        return left

    def parse_operand(self) -> Expr:
        tok = self.tok
        if tok.kind == "number":
            self.take()
            value: Any = float(tok.text) if "." in tok.text else int(tok.text)
            return Literal(value, tok.offset)
        if tok.kind == "string":
            self.take()
            return Literal(tok.text[1:-1], tok.offset)
        if tok.kind == "keyword" and tok.text in ("true", "false", "none"):
            self.take()
            return Literal({"true": True, "false": False, "none": None}[tok.text], tok.offset)
        if tok.kind == "keyword" and tok.text in QUANTIFIERS:
            return self.parse_quantifier()
        if tok.kind == "name":
            self.take()
            if tok.text == "otherwise":
                raise ConditionSyntaxError("'otherwise' must stand alone", tok.offset)
            return Name(tuple(tok.text.split(".")), tok.offset)
        if self.at("("):
            self.take()
            expr = self.parse_or()
            self.expect(")")
            return expr
        if self.at("["):
            return self.parse_list()
        raise self.error("expected a fact, a value or '('")

    def parse_quantifier(self) -> Expr:
        tok = self.take()
        self.expect("(")
        if self.tok.kind != "name":
            raise self.error(f"{tok.text}() needs a list fact first, e.g. {tok.text}(children, …)")
        name_tok = self.take()
        collection = Name(tuple(name_tok.text.split(".")), name_tok.offset)
        body: Expr | None = None
        if self.at(","):
            self.take()
            body = self.parse_or()
        elif tok.text != "count":
            raise self.error(f"{tok.text}() needs a condition after the list")
        self.expect(")")
        return Quantifier(tok.text, collection, body, tok.offset)

    def parse_list(self) -> Expr:
        start = self.expect("[").offset
        values: list[Any] = []
        while not self.at("]"):
            item = self.parse_operand()
            if not isinstance(item, Literal) or isinstance(item.value, tuple):
                raise ConditionSyntaxError("a list holds plain values only", item.offset)
            values.append(item.value)
            if not self.at(","):
                break
            self.take()
        self.expect("]")
        return Literal(tuple(values), start)


def parse_condition(text: str) -> Expr:
    """Parse a condition; raises ConditionSyntaxError with the offending offset."""
    if text.strip() == "otherwise":
        return Otherwise(text.index("otherwise"))
    return _Parser(text).parse()


# --- walking and evaluation ------------------------------------------------


def lookup(facts: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = facts
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def evaluate(
    expr: Expr,
    facts: Mapping[str, Any],
    item: Mapping[str, Any] | None = None,
    child: Mapping[str, Any] | None = None,
) -> Any:
    """Evaluate over plain facts; ``item`` is the quantifier's current element,
    ``child`` the current child of a step repeated per child."""
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Name):
        if item is not None:
            return lookup(item, expr.path)
        if expr.path[0] == "child" and child is not None:
            return lookup(child, expr.path[1:])
        return lookup(facts, expr.path)
    if isinstance(expr, Not):
        return not evaluate(expr.operand, facts, item, child)
    if isinstance(expr, BoolOp):
        results = (bool(evaluate(o, facts, item, child)) for o in expr.operands)
        return all(results) if expr.op == "and" else any(results)
    if isinstance(expr, Compare):
        return _compare(expr.op, evaluate(expr.left, facts, item, child), evaluate(expr.right, facts, item, child))
    if isinstance(expr, Quantifier):
        items = evaluate(expr.collection, facts, item, child) or ()
        if expr.body is None:
            return len(items)
        hits = [bool(evaluate(expr.body, facts, element, child)) for element in items]
        if expr.kind == "any":
            return any(hits)
        if expr.kind == "all":
            return all(hits)
        return sum(hits)
    raise TypeError(f"cannot evaluate {expr!r} directly")  # Otherwise is resolved by the caller


def _compare(op: str, left: Any, right: Any) -> bool:
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
