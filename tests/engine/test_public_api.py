"""The engine's public surface is ``engine.__all__``, complete and importable; it never imports api."""

from __future__ import annotations

import ast
import inspect

import engine
from tests.conftest import ROOT


def test_all_names_what_the_package_exports() -> None:
    public = {name for name, value in vars(engine).items() if not name.startswith("_") and not inspect.ismodule(value)}
    assert public == set(engine.__all__)


def test_engine_never_imports_api() -> None:
    for path in (ROOT / "engine").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("api"), path
            if isinstance(node, ast.Import):
                assert all(not a.name.startswith("api") for a in node.names), path
