"""Every error the engine raises on purpose lives in engine/errors.py and is drawn in its docstring,
so a caller finds the whole hierarchy in one place (as httpx's _exceptions.py does)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import engine
from engine import errors


def engine_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined anywhere in the engine package, by qualified name."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(engine.__path__, "engine."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name:
                found[f"{info.name}.{name}"] = value
    return found


def test_every_public_engine_error_is_defined_in_errors() -> None:
    elsewhere = [name for name, cls in engine_exceptions().items() if cls.__module__ != "engine.errors" and not cls.__name__.startswith("_")]
    assert elsewhere == []


def test_the_errors_docstring_draws_every_error_and_they_all_derive_from_the_base() -> None:
    ours = {cls.__name__: cls for cls in engine_exceptions().values() if cls.__module__ == "engine.errors"}
    assert {"BrytUppError", "ProcessError", "ConditionSyntaxError", "RulesError", "FactsError", "DecisionError"} <= set(ours)
    doc = errors.__doc__ or ""
    for name, cls in ours.items():
        assert f"{name} " in doc, f"{name} is not drawn in engine/errors.py's docstring"
        assert issubclass(cls, errors.BrytUppError), name
