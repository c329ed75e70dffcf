"""What a draft of a process change is written on, and what its text builds to.

A draft is written on each district's newest version, scheduled ones included,
so that approving it never undoes a change approved for a later day; its
``base_version`` names that version (for the central process, the set of
district versions it is built into), and an approval that no longer finds it
newest is refused.  ``build_text`` builds a text against it, one process per
district it touches, with every finding; a body that is not a process file of
the district at all is refused before anything is stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterable
from pathlib import Path

from sqlmodel import Session, col, select

from engine import CompiledProcess, build
from engine.errors import ProcessError
from engine.load import read_yaml

from ..errors import ApiError
from ..models import CurrentVersion, ProcessPublication, ProcessVersion
from ..pseudonym import MESSAGE, problems
from ..versions import Sources, build_stored

CENTRAL = "central"


@dataclasses.dataclass(frozen=True)
class Built:
    """A draft's text built against what it would change: one process per district it touches."""

    processes: dict[str, tuple[CompiledProcess, Sources]]
    findings: list[str]

    @property
    def version(self) -> str | None:
        if self.findings or not self.processes:
            return None
        if len(self.processes) == 1:
            return next(iter(self.processes.values()))[0].version
        # A central draft: one id for the set of district versions it makes.
        return set_id(compiled.version for compiled, _ in self.processes.values())


def set_id(versions: Iterable[str]) -> str:
    return hashlib.sha256("".join(sorted(versions)).encode()).hexdigest()[:16]


# --- building a text ----------------------------------------------------------------------


def live_row(session: Session, district: str) -> ProcessVersion:
    """The stored version the district serves now."""
    current = session.get(CurrentVersion, district)
    row = session.get(ProcessVersion, current.version) if current is not None else None
    if row is None:
        raise ApiError(404, "no process for that district")
    return row


def live_rows(session: Session) -> dict[str, ProcessVersion]:
    rows = session.exec(select(ProcessVersion).join(CurrentVersion, col(CurrentVersion.version) == col(ProcessVersion.version)))
    return {row.district: row for row in rows}


def newest_rows(session: Session) -> dict[str, ProcessVersion]:
    """Each district's newest version, scheduled ones included: what a draft is written on, so that
    approving it never undoes a change approved for a later day."""
    rows = live_rows(session)
    for district in list(rows):
        version = newest_version(session, district)
        if version is not None and version != rows[district].version:
            rows[district] = stored_version(session, district, version)
    return rows


def last_scheduled(session: Session, districts: Iterable[str]) -> dt.date | None:
    """The latest day a version approved for these districts has yet to take effect on."""
    return session.exec(
        select(col(ProcessPublication.effective_from))
        .where(
            col(ProcessPublication.district).in_(list(districts)),
            col(ProcessPublication.applied_at).is_(None),
            col(ProcessPublication.withdrawn_at).is_(None),
        )
        .order_by(col(ProcessPublication.effective_from).desc())
    ).first()


def newest_version(session: Session, district: str) -> str | None:
    """The version the district will serve once everything approved is in force: what a new
    draft is written against, and what an approval must still find."""
    scheduled = session.exec(
        select(ProcessPublication.version)
        .where(
            ProcessPublication.district == district,
            col(ProcessPublication.applied_at).is_(None),
            col(ProcessPublication.withdrawn_at).is_(None),
        )
        .order_by(col(ProcessPublication.effective_from).desc(), col(ProcessPublication.id).desc())
    ).first()
    if scheduled is not None:
        return scheduled
    current = session.get(CurrentVersion, district)
    return current.version if current is not None else None


def base_of(session: Session, district: str) -> str | None:
    if district != CENTRAL:
        return newest_version(session, district)
    # The central process's base is the set of district versions it is built into.
    versions = [row.version for row in newest_rows(session).values()]
    return set_id(versions) if versions else None


def display_path(stored: str) -> str:
    # Stored paths are wherever a file was read from; a draft is named by folder and file only.
    path = Path(stored)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def build_text(session: Session, district: str, text: str) -> tuple[str, Built]:
    """The draft's path and what it builds to, with every finding as ``file:line:col: …``.
    422 for a body that is not a process file of this district at all: nothing is stored."""
    if district == CENTRAL:
        rows = newest_rows(session)
        if not rows:
            raise ApiError(404, "no district serves a process yet")
        any_row = next(iter(rows.values()))
        path = display_path(any_row.central_path)
        _check_kind(path, text, central=True, district=district)
        sources = {d: Sources(path, text, display_path(r.district_path), r.district_text) for d, r in rows.items()}
    else:
        live_row(session, district)  # 404 for a district that serves no process
        row = newest_rows(session)[district]
        path = display_path(row.district_path)
        _check_kind(path, text, central=False, district=district)
        sources = {district: Sources(display_path(row.central_path), row.central_text, path, text)}
    return path, _build(sources)


def _check_kind(path: str, text: str, central: bool, district: str) -> None:
    try:
        data, _ = read_yaml(path, text)
    except ProcessError as exc:
        finding = exc.findings[0]
        where = f"line {finding.position.line}, column {finding.position.col}"
        # The parser's own message may quote the text; the loader's structural ones are its own words.
        why = finding.message if finding.check == "yaml_structure" else "a syntax error"
        raise body_problem(f"not YAML as a process file is written: {why} ({where})") from None
    if any(True for _ in problems(data)):
        raise body_problem(f"the file holds something that {MESSAGE}; a process file names no client")
    if not isinstance(data, dict):
        raise body_problem("a process file is a mapping of keys (district:, extends:, … or process:, …)")
    if central and "process" not in data:
        raise body_problem("this is not the central process: its file starts with 'process:'")
    if not central and "district" not in data:
        raise body_problem(f"this is not a district file; {district}'s file says 'district: {district}'")
    if not central and data["district"] != district:
        raise body_problem(f"the file is for another district; a draft for {district} says 'district: {district}'")


def body_problem(message: str) -> ApiError:
    """A 422 about the request body as a whole (a file), never quoting it."""
    return ApiError(422, message, fields=[{"loc": ["body"], "msg": message, "type": "value_error"}])


def _build(sources: dict[str, Sources]) -> Built:
    processes: dict[str, tuple[CompiledProcess, Sources]] = {}
    findings: list[str] = []
    for district, source in sorted(sources.items()):
        texts = {Path(source.central_path): source.central_text, Path(source.district_path): source.district_text}
        result = build(list(texts), texts=texts)
        findings.extend(str(f) for f in result.findings if str(f) not in findings)
        built = result.districts.get(district)
        if built is not None and built.ok and built.compiled is not None:
            processes[district] = (built.compiled, source)
    return Built(processes, findings)


def stored_version(session: Session, district: str, version: str) -> ProcessVersion:
    row = session.get(ProcessVersion, version)
    if row is None or row.district != district:
        raise ApiError(404, "no such version of that district's process")
    return row


def compiled_version(session: Session, district: str, version: str) -> CompiledProcess:
    row = stored_version(session, district, version)
    try:
        return build_stored(row)
    except Exception:
        raise ApiError(409, "that version can no longer be read by this service") from None
