"""Bryt upp process engine: load -> merge -> compile -> validate -> decide.

Each stage is one module; this package exports the stage functions, the
document models and the error types, and nothing else.
"""

from .bpmn import bpmn_process_id, export_bpmn
from .case import CaseState, CompletedStep, normalize_facts
from .compare import ProcessChanges, compare
from .compile import CompiledProcess, compile_process, process_version
from .decide import Decision, decide
from .equality import CellChange, EqualityMatrix, equality_changes, equality_from_build, equality_matrix
from .errors import (
    BrytUppError,
    ConditionSyntaxError,
    DecisionError,
    FactsError,
    Finding,
    Position,
    ProcessError,
    RulesError,
)
from .language import evaluate, parse_condition
from .load import load_document, load_override, load_process
from .merge import merge_override
from .pipeline import Build, Built, build
from .render import (
    RenderCacheInfo,
    case_diagram,
    change_diagram,
    clear_render_cache,
    diff_diagram,
    process_diagram,
    render,
    render_cache_info,
    render_case,
    render_changes,
    render_process,
)
from .rules import DurableMatcher, PythonMatcher
from .schema import DistrictOverride, EffectiveProcess, ProcessDocument, json_schema
from .validate import CHECKS, validate_process

__all__ = [
    "CHECKS",
    "BrytUppError",
    "Build",
    "Built",
    "CaseState",
    "CellChange",
    "CompiledProcess",
    "CompletedStep",
    "ConditionSyntaxError",
    "Decision",
    "DecisionError",
    "DistrictOverride",
    "DurableMatcher",
    "EffectiveProcess",
    "EqualityMatrix",
    "FactsError",
    "Finding",
    "Position",
    "ProcessChanges",
    "ProcessDocument",
    "ProcessError",
    "PythonMatcher",
    "RenderCacheInfo",
    "RulesError",
    "bpmn_process_id",
    "build",
    "case_diagram",
    "change_diagram",
    "clear_render_cache",
    "compare",
    "compile_process",
    "decide",
    "diff_diagram",
    "equality_changes",
    "equality_from_build",
    "equality_matrix",
    "evaluate",
    "export_bpmn",
    "json_schema",
    "load_document",
    "load_override",
    "load_process",
    "merge_override",
    "normalize_facts",
    "parse_condition",
    "process_diagram",
    "process_version",
    "render",
    "render_cache_info",
    "render_case",
    "render_changes",
    "render_process",
    "validate_process",
]
