"""Errors and findings: every problem points at the user's input.

Every error the engine raises on purpose is defined here, so a caller reads the whole
hierarchy in one place::

    BrytUppError                  base of everything the engine raises on purpose
    ├── ProcessError              a process or override file cannot be used; carries
    │                             every Finding that made it unusable (load, merge)
    ├── ConditionSyntaxError      a condition that does not parse; ``offset`` into its
    │   (also ValueError)         text (language/parse.py)
    ├── RulesError                durable-rules failed, or a condition cannot be said
    │                             in its terms (language/durable.py, rules.py)
    └── FactsError                a client's facts do not fit the vocabulary;
        │ (also ValueError)       ``problems`` by ``facts.path`` (case.py)
        └── DecisionError         a case state that does not fit the process: an
                                  unknown step, a child index out of range (decide.py)

The ValueError bases let code that validates input (pydantic validators, the API's
field errors) treat a bad condition or bad facts as the value errors they are.
Exceptions whose names start with ``_`` never leave the module that raises them
(they carry a finding to the place that records it) and are not part of this list.

A ``Finding`` is one problem at one place: ``file:line:col: key.path: message``.
Loading, merging and validation collect findings and report them all in one
pass; loading and merging raise ``ProcessError`` because nothing downstream can
run on an unusable document, validation returns its findings as a list.

Third-party exceptions (ruamel.yaml, pydantic) are translated into findings at
the boundary where they occur, so callers only ever catch ``BrytUppError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Position:
    """A place in a source file; line and column are 1-based as editors show them."""

    file: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def format_path(path: KeyPath) -> str:
    """``("steps", "x", "next", 0)`` -> ``steps.x.next[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


@dataclass(frozen=True)
class Finding:
    """One problem, located in the user's input.

    ``check`` names the rule that found it (``unreachable_step``,
    ``yaml_syntax``…) so tools can filter; ``related`` points at the other file
    involved, e.g. the central step a district override tries to weaken.
    """

    check: str
    message: str
    position: Position
    path: KeyPath = ()
    related: Position | None = None
    district: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        text = f"{self.position}: {format_path(self.path)}: {self.message}"
        if self.related is not None:
            text += f" (see {self.related})"
        return text


class BrytUppError(Exception):
    """Base class of the engine's own errors."""


class ConditionSyntaxError(BrytUppError, ValueError):
    """A condition that does not parse; ``offset`` is 0-based within the text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class RulesError(BrytUppError):
    """The rules engine failed or a condition cannot be expressed for it."""


Unknown = dict[str, list[tuple[Any, str | None]]]  # object path -> [(key as sent, closest declared name)]


class FactsError(BrytUppError, ValueError):
    """Facts that do not fit the vocabulary; ``problems`` maps ``facts.path`` to what is wrong.

    ``unknown`` keeps the undeclared keys as they were sent, by the path of the object
    holding them, for a caller showing users their own file (the command line); the
    message and ``problems`` never hold them.
    """

    def __init__(self, problems: dict[str, str], unknown: Unknown | None = None) -> None:
        self.problems = problems
        self.unknown: Unknown = unknown or {}
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems.items()))


class DecisionError(FactsError):
    """A case state that does not fit the process (unknown step, child index…)."""


class ProcessError(BrytUppError):
    """A process or override file cannot be used; ``findings`` says every reason."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        if not findings:
            raise ValueError("ProcessError needs at least one finding")
        self.findings: list[Finding] = sorted(findings, key=_finding_order)
        super().__init__("\n".join(str(f) for f in self.findings))


def _finding_order(finding: Finding) -> tuple[Position, str]:
    return (finding.position, finding.message)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=_finding_order)


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word``, or None when nothing is close enough."""
    import difflib

    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return match[0] if match else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A `; did you mean 'x'?` suffix, or '' when nothing is close enough.

    It names a candidate, never ``word``: where ``word`` is what a client sent, the
    message still repeats nothing of it.
    """
    match = closest(word, candidates)
    return f"; did you mean '{match}'?" if match else ""


@dataclass
class SourceMap:
    """Where each key and value of a loaded document came from.

    Paths are key paths into the plain data (``("steps", "intake", "role")``).
    A merged document holds positions from several files, which is why every
    ``Position`` names its own file.
    """

    file: str
    keys: dict[KeyPath, Position] = field(default_factory=dict)
    values: dict[KeyPath, Position] = field(default_factory=dict)
    # Quoted scalars start one column before their text; conditions need that.
    quoted: set[KeyPath] = field(default_factory=set)
    # Merged paths that came from another document's path (``steps.x`` <- ``add_steps.x``),
    # so a finding can name the key as the user wrote it.
    origins: dict[KeyPath, KeyPath] = field(default_factory=dict)

    def at(self, path: KeyPath) -> Position:
        """Position of the key at ``path``, or of its nearest recorded ancestor."""
        for end in range(len(path), 0, -1):
            pos = self.keys.get(path[:end]) or self.values.get(path[:end])
            if pos is not None:
                return pos
        return Position(self.file)

    def text_at(self, path: KeyPath, offset: int) -> Position:
        """Position of character ``offset`` inside the scalar value at ``path``."""
        pos = self.values.get(path)
        if pos is None:
            return self.at(path)
        return Position(pos.file, pos.line, pos.col + offset + (1 if path in self.quoted else 0))

    def original_path(self, path: KeyPath) -> KeyPath:
        """The key path as written in the file the position points into."""
        for end in range(len(path), 0, -1):
            origin = self.origins.get(path[:end])
            if origin is not None:
                return origin + path[end:]
        return path

    def copy_subtree(self, src: KeyPath, dst: KeyPath, into: SourceMap) -> None:
        """Record every position under ``src`` of this map under ``dst`` of ``into``."""
        n = len(src)
        if src != dst:
            into.origins[dst] = src
        for table_name in ("keys", "values"):
            table, target = getattr(self, table_name), getattr(into, table_name)
            for path, pos in table.items():
                if path[:n] == src:
                    target[dst + path[n:]] = pos
        for path in self.quoted:
            if path[:n] == src:
                into.quoted.add(dst + path[n:])
