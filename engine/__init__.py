"""Bryt upp process engine: load -> merge -> compile -> validate -> decide.

Each stage is one module; this package exports the stage functions, the
document models and the error types, and nothing else.
"""

from .case import CaseState, CompletedStep, FactsError, normalize_facts
from .compile import CompiledProcess, compile_process, process_version
from .conditions import ConditionSyntaxError, evaluate, parse_condition
from .decide import Decision, DecisionError, decide
from .errors import BrytUppError, Finding, Position, ProcessError
from .load import load_document, load_override, load_process
from .merge import merge_override
from .pipeline import Build, Built, build
from .rules import DurableMatcher, PythonMatcher, RulesError
from .schema import DistrictOverride, EffectiveProcess, ProcessDocument, json_schema
from .validate import CHECKS, validate_process

__all__ = [
    "CHECKS",
    "BrytUppError",
    "Build",
    "Built",
    "CaseState",
    "CompiledProcess",
    "CompletedStep",
    "ConditionSyntaxError",
    "Decision",
    "DecisionError",
    "DistrictOverride",
    "DurableMatcher",
    "EffectiveProcess",
    "FactsError",
    "Finding",
    "Position",
    "ProcessDocument",
    "ProcessError",
    "PythonMatcher",
    "RulesError",
    "build",
    "compile_process",
    "decide",
    "evaluate",
    "json_schema",
    "load_document",
    "load_override",
    "load_process",
    "merge_override",
    "normalize_facts",
    "parse_condition",
    "process_version",
    "validate_process",
]
