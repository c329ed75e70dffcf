"""Stage 3, compile: ``EffectiveProcess`` -> ``CompiledProcess`` (a networkx graph and a version).

Nodes are step ids carrying the ``Step`` and its responsible unit; edges carry
the ``Transition`` and its parsed condition, in the order the file lists them.
Edges to steps that do not exist are left out (validation names them).

The version is a content hash of the effective process: two districts, or two
loads, with the same content have the same version, and any change to what the
engine runs (a condition, a unit, a deadline) gives a new one.  Source
positions are not part of it, so moving a comment does not make a new version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import networkx as nx

from .errors import SourceMap
from .language import Expr
from .merge import source_of
from .schema import EffectiveProcess, Step, Transition

if TYPE_CHECKING:
    from .memo import Tables


@dataclass(frozen=True)
class CompiledProcess:
    process: EffectiveProcess
    graph: nx.DiGraph
    version: str
    source: SourceMap

    @property
    def district(self) -> str | None:
        return self.process.district.id if self.process.district else None

    @property
    def name(self) -> str:
        return self.district or self.process.process.id

    def step(self, step_id: str) -> Step:
        return self.process.steps[step_id]

    def outgoing(self, step_id: str) -> list[tuple[str, Transition, Expr | None]]:
        """``(target, transition, condition)`` in file order."""
        return self._outgoing[step_id]

    @cached_property
    def _outgoing(self) -> dict[str, list[tuple[str, Transition, Expr | None]]]:
        # Deciding walks these many times per decision: sort them once per process version.
        table = {}
        for step_id in self.graph:
            edges = sorted(self.graph.out_edges(step_id, data=True), key=lambda e: e[2]["order"])
            table[step_id] = [(target, data["transition"], data["condition"]) for _, target, data in edges]
        return table

    @cached_property
    def tables(self) -> Tables:
        """What deciding reads of this version (``memo.py``), built on its first decision and
        kept with it.  Not when compiling: validation compiles processes with broken
        references that only it may report, and most compiled versions are never decided on."""
        from .memo import Tables  # memo builds deciding's documents, and deciding reads this module

        return Tables.of(self)


def back_edges(successors: Mapping[str, Iterable[str]], start: str) -> list[tuple[str, str]]:
    """The edges that close a loop: to a node on the current path of a depth-first walk
    from ``start``, successors taken in the order given (so the result is stable).

    ``successors`` maps a node to the nodes it leads to; a networkx ``DiGraph`` is one
    (``back_edges(compiled.graph, compiled.process.start)``: its edges are in file order).
    """
    if start not in successors:
        return []
    loops: list[tuple[str, str]] = []
    on_path, done = {start}, {start}
    stack = [(start, iter(successors[start]))]
    while stack:
        node, following = stack[-1]
        target = next(following, None)
        if target is None:
            stack.pop()
            on_path.discard(node)
        elif target in on_path:
            loops.append((node, target))
        elif target not in done:
            done.add(target)
            on_path.add(target)
            stack.append((target, iter(successors[target])))
    return loops


def process_version(process: EffectiveProcess) -> str:
    canonical = json.dumps(process.model_dump(mode="json", by_alias=True), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def compile_process(process: EffectiveProcess) -> CompiledProcess:
    graph: nx.DiGraph = nx.DiGraph(start=process.start)
    for step_id, step in process.steps.items():
        graph.add_node(step_id, step=step, unit=process.bindings.get(step.role) if step.role else None)
    for step_id, step in process.steps.items():
        for order, (target, transition) in enumerate(step.transitions().items()):
            if target in process.steps:
                condition = transition.when.ast if transition.when is not None else None  # type: ignore[attr-defined]
                graph.add_edge(step_id, target, transition=transition, condition=condition, order=order)
    return CompiledProcess(process, graph, process_version(process), source_of(process))
