"""Parsing: the text of a ``when:`` (or ``for_each_when:``) into the tree of ``nodes``.

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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import ConditionSyntaxError
from .nodes import BoolOp, Compare, Expr, Literal, Name, Not, Otherwise, Quantifier

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
