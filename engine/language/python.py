"""The Python-source backend: a condition as a Python expression, for the BPMN export.

The expression reads the normalized facts as top-level names (every declared
fact is present) and means what ``evaluate`` computes: a missing value (None)
makes ordering and membership false, either way round.
"""

from __future__ import annotations

from .nodes import BoolOp, Compare, Expr, Literal, Name, Not, Otherwise, Quantifier, Visitor


class PythonSource(Visitor[str]):
    """``child`` names the current child of a per-child step; ``item`` the element of the
    innermost quantifier, ``depth`` how many quantifiers deep the node is."""

    def __init__(self, child: str | None = None, item: str | None = None, depth: int = 0) -> None:
        self.child = child
        self.item = item
        self.depth = depth

    def visit_literal(self, node: Literal) -> str:
        return repr(node.value)

    def visit_name(self, node: Name) -> str:
        path = node.path
        # Inside any()/all()/count() every name is a field of the element, as evaluate reads it.
        if self.item is not None:
            text, rest = f"{self.item}.get({path[0]!r})", path[1:]
        elif path[0] == "child" and self.child is not None:
            text, rest = (f"{self.child}.get({path[1]!r})", path[2:]) if len(path) > 1 else (self.child, ())
        else:
            text, rest = path[0], path[1:]
        for part in rest:  # a missing object reads as empty below it
            text = f"({text} or {{}}).get({part!r})"
        return text

    def visit_not(self, node: Not) -> str:
        return f"(not {node.operand.accept(self)})"

    def visit_bool_op(self, node: BoolOp) -> str:
        return "(" + f" {node.op} ".join(o.accept(self) for o in node.operands) + ")"

    def visit_quantifier(self, node: Quantifier) -> str:
        collection = f"({node.collection.accept(self)} or ())"
        if node.body is None:
            return f"len({collection})"
        var = "item" if self.depth == 0 else f"item{self.depth}"
        body = node.body.accept(PythonSource(self.child, var, self.depth + 1))
        if node.kind == "count":
            return f"sum(1 for {var} in {collection} if {body})"
        return f"{node.kind}({body} for {var} in {collection})"

    def visit_compare(self, node: Compare) -> str:
        left, right = node.left.accept(self), node.right.accept(self)
        if node.op in ("==", "!="):
            return f"({left} {node.op} {right})"
        op = "not in" if node.op == "notin" else node.op
        # A missing value (None) makes ordering and membership false, either way round.
        guards = [f"{side} is not None" for side, e in ((left, node.left), (right, node.right)) if not isinstance(e, Literal)]
        return "(" + " and ".join([*guards, f"{left} {op} {right}"]) + ")"

    def visit_otherwise(self, node: Otherwise) -> str:
        raise TypeError(f"cannot translate {node!r}")  # a default flow, not an expression


def python_source(expr: Expr, child: str | None = None) -> str:
    """``expr`` as a Python expression; ``child`` is the variable holding the current child."""
    return expr.accept(PythonSource(child))
