"""Every file in tests/invalid/ produces exactly the one-line error in its .err file.

District overrides there are merged onto ``tests/invalid/central/mini.yaml``.
Paths are relative to the repository, as an implementer running
``brytupp validate`` from the project root would see them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import build
from tests.conftest import ROOT

INVALID = sorted((ROOT / "tests" / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_file_gives_its_one_line_error(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    relative = path.relative_to(ROOT)
    result = build([relative], central_paths=[Path("tests/invalid/central")])
    expected = path.with_suffix(".err").read_text(encoding="utf-8").splitlines()
    assert len(expected) == 1
    assert [str(f) for f in result.findings] == expected


def test_the_invalid_folder_covers_every_refusal_the_issue_names() -> None:
    names = {p.stem for p in INVALID}
    assert {
        "yaml_syntax",
        "duplicate_key",
        "alias",
        "unknown_unit",
        "unbound_role",
        "loosened_deadline",
        "removed_guaranteed_step",
        "dropped_guarantee",
        "unreachable_local_step",
        "unknown_fact",
        "missing_range",
    } <= names
