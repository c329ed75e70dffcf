"""Stage 1, load: a YAML file -> a validated ``ProcessDocument`` or ``DistrictOverride``.

The YAML is parsed into events with ruamel.yaml (libyaml's C parser when
available; YAML 1.2, so a bare ``no`` stays the string "no") and turned into
plain data by hand, which lets us keep
the line and column of every key and value, refuse duplicate keys with both
positions, and refuse anchors and aliases before anything is expanded (a few
hundred bytes of nested aliases expand to tens of megabytes).  pydantic then
validates the plain data and each of its errors is mapped back to the key it
concerns.  Every problem found in the file is reported at once as a
``ProcessError``.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar, Union

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from .errors import Finding, KeyPath, Position, ProcessError, SourceMap, did_you_mean
from .language import ConditionSyntaxError
from .schema import CITY_WIDE_KINDS, DISTRICT_RVC, DistrictOverride, Model, ProcessDocument

Document = ProcessDocument | DistrictOverride
M = TypeVar("M", bound=BaseModel)


class _StructureError(Exception):
    def __init__(self, message: str, position: Position, path: KeyPath = ()) -> None:
        super().__init__(message)
        self.finding = Finding("yaml_structure", message, position, path)


_YAML = YAML(typ="safe")  # libyaml's C parser when ruamel.yaml.clib is installed
_RESOLVER = VersionedResolver(version=(1, 2))


def read_yaml(path: Path | str, text: str | None = None) -> tuple[Any, SourceMap]:
    """Plain data and its source map; raises ProcessError for any YAML problem."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProcessError([Finding("io", f"cannot read file: {exc}", Position(name))]) from exc
    source = SourceMap(name)
    try:
        data = _Builder(_YAML.parse(text), source).document()
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(name, mark.line + 1, mark.column + 1) if mark else Position(name)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context and exc.context_mark is not None:
            where = exc.context_mark
            problem = f"{problem} ({exc.context} at line {where.line + 1}, column {where.column + 1})"
        raise ProcessError([Finding("yaml_syntax", f"YAML syntax: {problem}", pos)]) from exc
    except YAMLError as exc:
        raise ProcessError([Finding("yaml_syntax", f"YAML syntax: {exc}", Position(name))]) from exc
    except _StructureError as exc:
        raise ProcessError([exc.finding]) from exc
    except RecursionError as exc:
        raise ProcessError([Finding("yaml_structure", "the YAML is nested too deeply", Position(name))]) from exc
    return data, source


class _Builder:
    """Plain data straight from the parser's events, keeping every position.

    Working on events rather than composed nodes lets us refuse an anchor or an
    alias where it is written, before anything could be expanded, and find
    duplicate keys with both their lines.
    """

    def __init__(self, events: Iterator[Any], source: SourceMap) -> None:
        self.events = events
        self.source = source

    def pos(self, event: Any) -> Position:
        return Position(self.source.file, event.start_mark.line + 1, event.start_mark.column + 1)

    def document(self) -> Any:
        next(self.events)  # StreamStartEvent
        first = next(self.events)
        if isinstance(first, StreamEndEvent):
            raise _StructureError("the file is empty", Position(self.source.file))
        data = self.value(next(self.events), ())
        next(self.events)  # DocumentEndEvent
        extra = next(self.events)
        if isinstance(extra, DocumentStartEvent):
            raise _StructureError("one YAML document per file: remove the second '---'", self.pos(extra))
        return data

    def value(self, event: Any, path: KeyPath) -> Any:
        position = self.pos(event)
        self.source.values[path] = position
        if isinstance(event, AliasEvent):
            raise _StructureError(f"aliases are not allowed (*{event.anchor}); write the value out in full", position, path)
        if getattr(event, "anchor", None):
            raise _StructureError(f"anchors are not allowed (&{event.anchor}); write the value out in full", position, path)
        if isinstance(event, MappingStartEvent):
            return self.mapping(path)
        if isinstance(event, SequenceStartEvent):
            items: list[Any] = []
            while not isinstance(item := next(self.events), SequenceEndEvent):
                items.append(self.value(item, (*path, len(items))))
            return items
        return self.scalar(event, path)

    def mapping(self, path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while not isinstance(key_event := next(self.events), MappingEndEvent):
            if not isinstance(key_event, ScalarEvent) or key_event.anchor:
                raise _StructureError("keys must be plain names", self.pos(key_event), path)
            key = self.scalar(key_event, path)
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise _StructureError("keys must be plain names", self.pos(key_event), path)
            key = str(key)
            if key in out:
                first = self.source.keys[(*path, key)]
                raise _StructureError(
                    f"duplicate key '{key}' (first defined at line {first.line})", self.pos(key_event), (*path, key)
                )
            self.source.keys[(*path, key)] = self.pos(key_event)
            out[key] = self.value(next(self.events), (*path, key))
        return out

    def scalar(self, event: Any, path: KeyPath) -> Any:
        if event.tag not in (None, "!"):
            raise _StructureError(f"tags are not allowed ({event.tag})", self.pos(event), path)
        if event.style:  # quoted or block scalars are text
            if event.style in ("'", '"'):
                self.source.quoted.add(path)
            return event.value
        return _convert(_RESOLVER.resolve(ScalarNode, event.value, (True, False)), event.value)


def _convert(tag: Any, value: str) -> Any:
    tag = getattr(tag, "value", tag)  # newer ruamel wraps tags in a Tag object
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() == "true"
    if tag == "tag:yaml.org,2002:int":
        digits = value.replace("_", "")
        try:
            return int(digits, 0)  # 0x1f, 0o17
        except ValueError:
            return int(digits, 10)  # YAML 1.2 reads 010 as ten
    if tag == "tag:yaml.org,2002:float":
        try:
            return float(value.replace("_", ""))
        except ValueError:
            return value  # .inf / .nan spellings: leave them to the schema
    if tag == "tag:yaml.org,2002:timestamp":
        try:
            return dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


# --- validation --------------------------------------------------------------


def validate_data(model: type[M], data: Any, source: SourceMap) -> M:
    """``model.model_validate(data)`` with every error located in the file."""
    if not isinstance(data, dict):
        raise ProcessError([Finding("schema", "the document must be a mapping of keys", source.at(()))])
    try:
        document = model.model_validate(data)
    except ValidationError as exc:
        raise ProcessError([_finding(model, err, data, source) for err in exc.errors()]) from exc
    if isinstance(document, Model):
        document._source = source
    return document


def _data_path(loc: tuple[Any, ...], data: Any) -> KeyPath:
    """pydantic's ``loc`` can name union members and validators; keep the data keys."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and not part[:1].isupper() and "[" not in part:
            path.append(part)  # a missing or extra key: still worth naming
            node = None
    return tuple(path)


def _finding(model: type[BaseModel], err: Any, data: Any, source: SourceMap) -> Finding:
    path = _data_path(err["loc"], data)
    kind, msg = err["type"], err["msg"]
    pos = source.at(path)
    if kind == "extra_forbidden":
        fields = _fields_at(model, path[:-1])
        msg = f"unknown key '{path[-1]}'{did_you_mean(str(path[-1]), fields)}"
    elif kind == "missing":
        msg = f"missing required key '{path[-1]}'"
        pos = source.at(path[:-1])
    elif kind == "value_error" and isinstance(err.get("ctx", {}).get("error"), ConditionSyntaxError):
        cause: ConditionSyntaxError = err["ctx"]["error"]
        msg = f"condition: {cause.message}"
        pos = source.text_at(path, cause.offset)
    elif kind in ("value_error", "assertion_error"):
        msg = msg.removeprefix("Value error, ")
    elif kind == "string_pattern_mismatch" and path and path[-1] == "within":
        msg = "a duration is a number and d, w or m: 0d, 7d, 2w, 4m"
    elif kind == "string_pattern_mismatch":
        msg = "an id is lower case ASCII letters, digits and _, starting with a letter"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        msg = f"expected a mapping of keys (found {_kind_of(err.get('input'))})"
    elif kind in ("literal_error", "bool_type", "int_type", "string_type", "list_type"):
        value = err.get("input")
        if isinstance(value, str | int | float | bool) or value is None:
            msg = f"{msg} (found {value!r})"
    return Finding("schema", msg, pos, path)


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    return {str: "text", int: "a number", bool: "a boolean", list: "a list", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _fields_at(model: type[BaseModel], path: KeyPath) -> list[str]:
    """Field names (by alias) of the model found at ``path``, for suggestions."""
    annotation: Any = model
    for part in path:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
        elif typing.get_origin(annotation) in (dict, list):
            annotation = typing.get_args(annotation)[-1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or name for name, f in annotation.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, …]`` and ``X | None`` -> X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


# --- the central process's city-wide units ------------------------------------


def check_city_units(document: ProcessDocument, source: SourceMap) -> list[Finding]:
    """The central ``units`` are city-wide and its ``bindings`` name declared roles and units.

    Checked when the file loads: every district's merge takes them as they are, so a
    mistake here would leave a role's steps without a unit in every district at once.
    """
    findings: list[Finding] = []
    for unit_id, unit in document.units.items():
        path: KeyPath = ("units", unit_id)
        if unit_id == DISTRICT_RVC:
            message = f"'{DISTRICT_RVC}' stands for the district's RVC in bindings; give the unit another id"
            findings.append(Finding("schema", message, source.at(path), path))
        elif unit.kind not in CITY_WIDE_KINDS:
            kind_path = (*path, "kind") if (*path, "kind") in source.keys else path
            message = (
                f"the central process declares city-wide units only (kind 'city' or 'rvc', not '{unit.kind}'); "
                "a district declares its own units"
            )
            findings.append(Finding("wrong_unit_kind", message, source.at(kind_path), kind_path))
    for role, unit_id in document.bindings.items():
        path = ("bindings", role)
        bound = None if unit_id == DISTRICT_RVC else document.units.get(unit_id)
        if role not in document.roles:
            message = f"unknown role '{role}'{did_you_mean(role, document.roles)}"
            findings.append(Finding("unknown_reference", message, source.at(path), path))
        elif unit_id != DISTRICT_RVC and bound is None:
            hint = did_you_mean(unit_id, [*document.units, DISTRICT_RVC])
            message = f"unknown unit '{unit_id}' (not declared under units){hint}"
            findings.append(Finding("unknown_unit", message, source.at(path), path))
        elif bound is not None and bound.kind == "rvc":
            message = f"'{unit_id}' serves some districts only; bind the role to '{DISTRICT_RVC}', each district's own RVC"
            findings.append(Finding("wrong_unit_kind", message, source.at(path), path))
    return findings


# --- entry points ------------------------------------------------------------


def load_document(path: Path | str, text: str | None = None) -> Document:
    """Load either kind of file, told apart by its top-level keys."""
    data, source = read_yaml(path, text)
    if isinstance(data, dict) and "district" in data:
        return validate_data(DistrictOverride, data, source)
    if isinstance(data, dict) and "process" in data:
        document = validate_data(ProcessDocument, data, source)
        findings = check_city_units(document, source)
        if findings:
            raise ProcessError(findings)
        return document
    raise ProcessError(
        [
            Finding(
                "schema",
                "not a process file: expected a top-level 'process' (central process) or 'district' (district override) key",
                source.at(()),
            )
        ]
    )


def load_process(path: Path | str, text: str | None = None) -> ProcessDocument:
    """Load the central process; conditions are parsed and checked against its facts."""
    from .validate import check_conditions  # validate imports the compiled form, not load

    data, source = read_yaml(path, text)
    document = validate_data(ProcessDocument, data, source)
    findings = [*check_city_units(document, source), *check_conditions(document, source)]
    if findings:
        raise ProcessError(findings)
    return document


def load_override(path: Path | str, text: str | None = None) -> DistrictOverride:
    data, source = read_yaml(path, text)
    return validate_data(DistrictOverride, data, source)
