"""The whole pipeline: files -> load -> merge -> compile -> validate, for every district.

``build(paths)`` is what the command line and the service run: it finds the
central process files and the district overrides among ``paths`` (files or
folders), and returns every compiled process with the findings for it.  A file
that cannot be loaded never stops the others from being built.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .compile import CompiledProcess, compile_process
from .errors import Finding, ProcessError, sort_findings
from .load import load_document
from .merge import merge_override, source_of
from .schema import DistrictOverride, ProcessDocument
from .validate import validate_process

DEFAULT_PATHS = ("processes", "local_overrides")


@dataclass
class Built:
    """One process (central or a district's), compiled if it could be."""

    name: str
    path: str
    compiled: CompiledProcess | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.compiled is not None and not self.findings


@dataclass
class Build:
    central: dict[str, Built] = field(default_factory=dict)
    districts: dict[str, Built] = field(default_factory=dict)
    # Files that could not be told apart or loaded at all.
    unreadable: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        every = list(self.unreadable)
        for built in [*self.central.values(), *self.districts.values()]:
            every.extend(built.findings)
        return sort_findings(every)


def yaml_files(paths: Iterable[Path | str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix in (".yaml", ".yml")))
        else:
            out.append(p)
    return out


def build(
    paths: Iterable[Path | str] = DEFAULT_PATHS,
    central_paths: Iterable[Path | str] = (),
    texts: Mapping[Path, str] | None = None,
) -> Build:
    """Build every process found in ``paths``.

    When ``paths`` hold district files but no central process, the central
    processes are looked for in ``central_paths`` (by default ``processes/``).
    ``texts`` gives the content of files already read, so that a caller that
    fingerprints the files builds exactly what it fingerprinted.
    """
    result = Build()
    centrals: dict[str, ProcessDocument] = {}
    overrides: list[tuple[Path, DistrictOverride]] = []
    files = yaml_files(paths)
    for path, document in _load_each(files, result, texts):
        if isinstance(document, DistrictOverride):
            overrides.append((path, document))
        else:
            _add_central(result, centrals, path, document)
    if overrides and not centrals:
        fallback = [p for p in yaml_files(central_paths or [DEFAULT_PATHS[0]]) if p not in files and p.exists()]
        for path, document in _load_each(fallback, result, texts):
            if isinstance(document, ProcessDocument):
                _add_central(result, centrals, path, document)
    for path, override in overrides:
        result.districts[override.district] = build_district(result, centrals, path, override)
    return result


def _load_each(
    files: list[Path], result: Build, texts: Mapping[Path, str] | None
) -> Iterator[tuple[Path, ProcessDocument | DistrictOverride]]:
    """Each loadable document; the findings of the others go to ``result.unreadable``."""
    for path in files:
        try:
            yield path, load_document(path, None if texts is None else texts.get(path))
        except ProcessError as exc:
            result.unreadable.extend(exc.findings)


def _add_central(result: Build, centrals: dict[str, ProcessDocument], path: Path, document: ProcessDocument) -> None:
    compiled = compile_process(merge_override(document))
    findings = validate_process(compiled)
    centrals[document.process.id] = document
    result.central[document.process.id] = Built(document.process.id, str(path), compiled, sort_findings(findings))


def build_district(result: Build, centrals: dict[str, ProcessDocument], path: Path, override: DistrictOverride) -> Built:
    central = centrals.get(override.extends)
    if central is None:
        position = source_of(override).at(("extends",))
        finding = Finding("unknown_reference", f"central process '{override.extends}' not found", position, ("extends",))
        return Built(override.district, str(path), None, [finding])
    if override.district in result.districts:
        first = result.districts[override.district].path
        position = source_of(override).at(("district",))
        finding = Finding(
            "duplicate_district", f"district '{override.district}' is also defined in {first}", position, ("district",)
        )
        return Built(override.district, str(path), None, [finding])
    try:
        merged = merge_override(central, override)
    except ProcessError as exc:
        return Built(override.district, str(path), None, exc.findings)
    compiled = compile_process(merged)
    central_built = result.central[central.process.id].compiled
    return Built(override.district, str(path), compiled, validate_process(compiled, central_built))


__all__ = ["Build", "Built", "build", "yaml_files"]
