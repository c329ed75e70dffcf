"""The processes a running service decides with: the versions the database says are current.

Which version each district serves is a row in the database (``api/versions.py``), not a
property of any one machine's files: every instance follows those rows, switching within
moments of a publication (woken by ``NOTIFY`` on PostgreSQL, polling as the fallback), and
at start an instance loads them, so a district never goes missing because a file is broken.

Files are the authoring format.  Where the registry reads them (development: ``make run``
and the tests; ``BRYTUPP_WATCH_FILES``), a file that loads and validates is published
through the database like any other version, so one path serves both; one that fails keeps
its district on the current version, with the findings (``file:line:col: …``) beside it for
the processes endpoint and the log.  Without a database (``brytupp goals``) the files are
all there is.

A ``Snapshot`` is immutable and replaced as a whole (one reference assignment), so a request
that took the snapshot at its start sees one consistent set of processes however many
switches happen meanwhile: never a half-loaded process.  Every version that ever served is
remembered, so that cases stay on the version they started on until they are migrated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine import CompiledProcess, Finding, build
from engine.pipeline import yaml_files

from . import metrics
from .models import CurrentVersion
from .versions import Sources, VersionStore, build_central, build_stored

log = logging.getLogger("brytupp.processes")


@dataclass(frozen=True)
class DistrictState:
    name: str
    path: str
    # The version serving now: the newest one that loaded and validated cleanly.
    compiled: CompiledProcess | None
    # What is wrong with the district's files as they are now; empty when they serve.
    findings: tuple[Finding, ...] = ()
    loaded_at: dt.datetime | None = None

    @property
    def label(self) -> str:
        if self.compiled is not None and self.compiled.process.district is not None:
            return self.compiled.process.district.label
        return self.name


@dataclass(frozen=True)
class Snapshot:
    districts: Mapping[str, DistrictState] = field(default_factory=dict)
    # Findings no district owns: the central process, unreadable files of unknown district.
    problems: tuple[Finding, ...] = ()
    # The central process as it last built cleanly: what districts are compared against.
    central: CompiledProcess | None = None
    fingerprint: str = ""
    checked_at: dt.datetime | None = None


class Registry:
    def __init__(
        self,
        paths: Iterable[Path | str],
        store: VersionStore | None = None,
        read_files: bool = True,
        published_by: str = "the service (process files)",
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.store = store
        self.read_files = read_files
        self.published_by = published_by
        self.snapshot = Snapshot()
        # What the files say, when they are read: findings, paths, the central process.
        self._files = Snapshot()
        self._followed: dict[str, str] = {}
        self._versions: dict[str, CompiledProcess] = {}
        self._unpublished: dict[str, tuple[CompiledProcess, Sources]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- reading ---------------------------------------------------------------------

    def current(self, district: str) -> CompiledProcess | None:
        state = self.snapshot.districts.get(district)
        return state.compiled if state else None

    def version(self, version: str) -> CompiledProcess | None:
        return self._versions.get(version)

    def sources(self, districts: Iterable[str]) -> list[tuple[CompiledProcess, Sources]]:
        """These districts' versions as read from the files and not yet published, with their texts."""
        return [self._unpublished[d] for d in districts if d in self._unpublished]

    def remember(self, compiled: CompiledProcess) -> None:
        self._versions.setdefault(compiled.version, compiled)

    # --- loading ---------------------------------------------------------------------

    def reload(self) -> bool:
        """Read the files (where this registry does), publish what changed, and follow the
        database.  True when what the service shows changed."""
        with self._lock:
            changed = False
            if self.read_files:
                texts = self._read()
                fingerprint = hashlib.sha256(repr(sorted((str(p), t) for p, t in texts.items())).encode()).hexdigest()
                if fingerprint != self._files.fingerprint:
                    self._files = self._rebuild(texts, fingerprint)
                    changed = True
            if self.store is None:
                if changed:
                    self.snapshot = self._files
                return changed
            self._publish()
            return self._follow(force=changed) or changed

    def follow(self) -> bool:
        """Switch to the versions the database says are current; True when any changed."""
        with self._lock:
            return self.store is not None and self._follow()

    def _publish(self) -> None:
        # Stored before any instance serves it; a failure (the database away) is retried at the
        # next check rather than forgotten.
        if not self._unpublished or self.store is None:
            return
        try:
            self.store.publish(list(self._unpublished.values()), self.published_by)
        except Exception:
            log.exception("could not publish the process files; will retry")
            return
        self._unpublished.clear()

    def _follow(self, force: bool = False) -> bool:
        assert self.store is not None
        self.store.promote_due()
        rows = self.store.current()
        current = {district: row.version for district, row in rows.items()}
        if current == self._followed and not force:
            return False
        old = self.snapshot
        districts: dict[str, DistrictState] = {}
        for district, row in sorted(rows.items()):
            compiled = self._versions.get(row.version) or self._build(row.version)
            previous = old.districts.get(district)
            if compiled is None:  # cannot be built here: keep what served, say why in the log
                compiled = previous.compiled if previous else None
            files = self._files.districts.get(district)
            districts[district] = DistrictState(
                district,
                files.path if files else (previous.path if previous else district),
                compiled,
                files.findings if files else (),
                row.since,
            )
            before = previous.compiled.version if previous is not None and previous.compiled is not None else None
            if compiled is not None and before not in (None, compiled.version):
                log.info("%s: now serving process version %s", district, compiled.version)
                metrics.version_switched(district)
        for district, files in self._files.districts.items():
            # Read from a file but never published (it has never been good): shown with its findings.
            districts.setdefault(district, files)
        problems = []
        for finding in self._files.problems:
            # A district file unreadable since start has no district yet: by convention it is named after it.
            owner = districts.get(Path(finding.position.file).stem)
            if owner is None:
                problems.append(finding)
                continue
            districts[owner.name] = DistrictState(
                owner.name, finding.position.file, owner.compiled, (*owner.findings, finding), owner.loaded_at
            )
        central = self._files.central or old.central or self._central(rows)
        self.snapshot = Snapshot(districts, tuple(problems), central, self._files.fingerprint, dt.datetime.now(dt.UTC))
        switched = current != self._followed
        self._followed = current
        return switched

    def _build(self, version: str) -> CompiledProcess | None:
        assert self.store is not None
        row = self.store.texts(version)
        if row is None:
            log.error("process version %s is current but not stored", version)
            return None
        try:
            compiled = build_stored(row)
        except Exception:
            log.exception("process version %s cannot be built", version)
            return None
        self._versions[version] = compiled
        return compiled

    def _central(self, rows: Mapping[str, CurrentVersion]) -> CompiledProcess | None:
        """The central process, for the diff views, from the text a current version was built with."""
        assert self.store is not None
        for row in rows.values():
            stored = self.store.texts(row.version)
            if stored is not None:
                try:
                    return build_central(stored)
                except Exception:
                    log.exception("the central process of version %s cannot be built", row.version)
        return None

    def _read(self) -> dict[Path, str]:
        texts: dict[Path, str] = {}
        for path in yaml_files(p for p in self.paths if p.exists()):
            try:
                texts[path] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                # An editor may be halfway through replacing the file; the next check reads it.
                log.warning("cannot read %s: %s", path, exc)
        return texts

    def _rebuild(self, texts: dict[Path, str], fingerprint: str) -> Snapshot:
        result = build(list(texts), texts=texts)
        old = self._files
        now = dt.datetime.now(dt.UTC)
        by_path = {state.path: name for name, state in old.districts.items()}
        districts: dict[str, DistrictState] = {}
        for name, built in result.districts.items():
            previous = old.districts.get(name)
            if built.ok and built.compiled is not None:
                compiled = built.compiled
                sources = self._sources(result.central, built.path, texts)
                self.remember(compiled)
                same = previous is not None and previous.compiled is not None and previous.compiled.version == compiled.version
                if sources is not None and not same:
                    self._unpublished[name] = (compiled, sources)
                loaded_at = previous.loaded_at if same and previous is not None else now
                districts[name] = DistrictState(name, built.path, compiled, (), loaded_at)
            else:
                districts[name] = self._keep(previous, name, built.path, built.findings)
                log.error("%s: keeping the current version:\n%s", name, _lines(built.findings))
        problems: list[Finding] = []
        for finding in result.unreadable:
            owner = by_path.get(finding.position.file)
            if owner is not None and owner not in districts:
                districts[owner] = self._keep(old.districts[owner], owner, finding.position.file, [finding])
                log.error("%s: file unreadable, keeping the current version: %s", owner, finding)
            elif owner is not None:
                kept = districts[owner]
                districts[owner] = self._keep(kept, owner, kept.path, [*kept.findings, finding])
            else:
                problems.append(finding)
        central = old.central
        for built in result.central.values():
            problems.extend(built.findings)
            if built.ok and built.compiled is not None:
                central = built.compiled
        for name, state in old.districts.items():
            # A district whose file vanished keeps serving: cases on it must not stop.
            districts.setdefault(name, state)
        if problems:
            log.error("process files with problems:\n%s", _lines(problems))
        return Snapshot(dict(sorted(districts.items())), tuple(problems), central, fingerprint, now)

    @staticmethod
    def _keep(previous: DistrictState | None, name: str, path: str, findings: Iterable[Finding]) -> DistrictState:
        compiled = previous.compiled if previous else None
        return DistrictState(name, path, compiled, tuple(findings), previous.loaded_at if previous else None)

    @staticmethod
    def _sources(centrals: Mapping[str, object], district_path: str, texts: Mapping[Path, str]) -> Sources | None:
        # One central process file is the programme's rule; with several the sources are ambiguous.
        central_paths = [getattr(b, "path", "") for b in centrals.values()]
        if len(central_paths) != 1:
            return None
        central = Path(central_paths[0])
        district = Path(district_path)
        if central not in texts or district not in texts:
            return None
        return Sources(str(central), texts[central], str(district), texts[district])

    # --- watching --------------------------------------------------------------------

    def watch(self, files_interval: float, follow_interval: float) -> None:
        """Check the files every ``files_interval`` seconds (0: never) and the database's current
        versions every ``follow_interval`` (0: never; on PostgreSQL a NOTIFY wakes it at once)."""
        if self._threads:
            return
        if files_interval > 0 and self.read_files:
            self._start(self._watch_files, files_interval, "process-files")
        if follow_interval > 0 and self.store is not None:
            self._start(self._follow_loop, follow_interval, "process-versions")
            if self.store.listens:
                self._start(self._listen, follow_interval, "process-notify")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def _start(self, target: Callable[[float], None], interval: float, name: str) -> None:
        thread = threading.Thread(target=target, args=(interval,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _watch_files(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                if self.reload():
                    log.info("process files reloaded")
            except Exception:  # the watcher must outlive any one bad reload
                log.exception("reloading the process files failed")

    def _follow_loop(self, interval: float) -> None:
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.follow()
            except Exception:  # the database away: the versions serving stay, and the next check retries
                log.warning("could not read the current process versions; will retry")

    def _listen(self, interval: float) -> None:
        """On PostgreSQL: wake the follower as soon as a publication commits."""
        assert self.store is not None
        while not self._stop.is_set():
            try:
                with self.store.listen() as notifications:
                    while not self._stop.is_set():
                        for _ in notifications(interval):
                            self._wake.set()
            except Exception:  # behind a transaction pooler, or the database away: polling goes on
                if self._stop.wait(max(interval, 1.0) * 5):
                    return


def _lines(findings: Iterable[Finding]) -> str:
    return "\n".join(f"  {f}" for f in findings)
