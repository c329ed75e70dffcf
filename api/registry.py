"""The processes a running service decides with, reloaded when their files change.

A ``Snapshot`` is immutable and replaced as a whole (one reference assignment),
so a request that took the snapshot at its start sees one consistent set of
processes however many reloads happen meanwhile: never a half-loaded process.

When a file fails to load or validate, its district keeps serving the last good
version and the findings are kept beside it (``file:line:col: …``) for the
processes endpoint and the log.  Every version that ever served is remembered
with its source texts (``sources``), so that cases stay on the version they
started on until they are migrated, also after a restart (the service stores
the sources in the database).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine import CompiledProcess, Finding, build, compile_process, load_override, load_process, merge_override
from engine.pipeline import yaml_files

log = logging.getLogger("brytupp.processes")


@dataclass(frozen=True)
class Sources:
    """The two files a district's effective process is built from, as they were read."""

    central_path: str
    central_text: str
    district_path: str
    district_text: str

    def compile(self) -> CompiledProcess:
        central = load_process(self.central_path, self.central_text)
        override = load_override(self.district_path, self.district_text)
        return compile_process(merge_override(central, override))


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
    def __init__(self, paths: Iterable[Path | str], on_new_version: Callable[[CompiledProcess, Sources], None] | None = None):
        self.paths = [Path(p) for p in paths]
        self.snapshot = Snapshot()
        self.on_new_version = on_new_version
        self._versions: dict[str, tuple[CompiledProcess, Sources | None]] = {}
        self._unsaved: list[tuple[CompiledProcess, Sources]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- reading ---------------------------------------------------------------------

    def current(self, district: str) -> CompiledProcess | None:
        state = self.snapshot.districts.get(district)
        return state.compiled if state else None

    def version(self, version: str) -> CompiledProcess | None:
        found = self._versions.get(version)
        return found[0] if found else None

    def remember(self, compiled: CompiledProcess, sources: Sources | None = None) -> None:
        self._versions.setdefault(compiled.version, (compiled, sources))

    # --- loading ---------------------------------------------------------------------

    def reload(self) -> bool:
        """Read the files; rebuild if any changed.  True when a new snapshot was installed."""
        with self._lock:
            texts = self._read()
            fingerprint = hashlib.sha256(repr(sorted((str(p), t) for p, t in texts.items())).encode()).hexdigest()
            changed = fingerprint != self.snapshot.fingerprint
            if changed:
                self.snapshot = self._rebuild(texts, fingerprint)
            self._save()
            return changed

    def _save(self) -> None:
        # Store new versions before any case can be put on them elsewhere; a failure (the
        # database away) is retried at the next check rather than forgotten.
        while self._unsaved and self.on_new_version is not None:
            compiled, sources = self._unsaved[0]
            try:
                self.on_new_version(compiled, sources)
            except Exception:
                log.exception("could not store process version %s; will retry", compiled.version)
                return
            self._unsaved.pop(0)

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
        old = self.snapshot
        now = dt.datetime.now(dt.UTC)
        by_path = {state.path: name for name, state in old.districts.items()}
        districts: dict[str, DistrictState] = {}
        for name, built in result.districts.items():
            previous = old.districts.get(name)
            if built.ok and built.compiled is not None:
                compiled = built.compiled
                sources = self._sources(result.central, built.path, texts)
                if compiled.version not in self._versions:
                    self._versions[compiled.version] = (compiled, sources)
                    if sources is not None:
                        self._unsaved.append((compiled, sources))
                same = previous is not None and previous.compiled is not None and previous.compiled.version == compiled.version
                loaded_at = previous.loaded_at if same and previous is not None else now
                districts[name] = DistrictState(name, built.path, compiled, (), loaded_at)
            else:
                districts[name] = self._keep(previous, name, built.path, built.findings)
                log.error("%s: keeping the last good version:\n%s", name, _lines(built.findings))
        problems: list[Finding] = []
        for finding in result.unreadable:
            owner = by_path.get(finding.position.file)
            if owner is not None and owner not in districts:
                districts[owner] = self._keep(old.districts[owner], owner, finding.position.file, [finding])
                log.error("%s: file unreadable, keeping the last good version: %s", owner, finding)
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

    def watch(self, interval: float) -> None:
        if interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, args=(interval,), name="process-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                if self.reload():
                    log.info("process files reloaded")
            except Exception:  # the watcher must outlive any one bad reload
                log.exception("reloading the process files failed")


def _lines(findings: Iterable[Finding]) -> str:
    return "\n".join(f"  {f}" for f in findings)
