"""The JSON Schema for editors is generated from the models and committed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from engine.schema import FactSpec, json_schema, json_schema_text
from tests.conftest import ROOT


def test_committed_schema_matches_the_models() -> None:
    committed = (ROOT / "processes" / "process.schema.json").read_text(encoding="utf-8")
    assert committed == json_schema_text(), "run `make schema` and commit processes/process.schema.json"


def test_schema_describes_both_documents_and_forbids_unknown_keys() -> None:
    schema = json_schema()
    for name in ("ProcessDocument", "DistrictOverride", "Step", "StepPatch"):
        assert schema["$defs"][name]["additionalProperties"] is False
    assert "from" in schema["$defs"]["Deadline"]["properties"]
    json.dumps(schema)


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ({"type": "integer", "min": 0}, "every integer fact declares its range: give 'min' and 'max'"),
        ({"type": "boolean", "max": 3}, "'min' and 'max' belong to integer facts, not boolean"),
        ({"type": "integer", "min": 3, "max": 2}, "'min' is greater than 'max'"),
        ({"type": "list", "fields": {"age": {"type": "boolean", "label": "x"}}}, "every list fact declares how many items it may hold: give 'max_items'"),
        ({"type": "set", "values": ["a"], "max_items": 3}, "'max_items' belongs to list facts, not set"),
        ({"type": "enum", "values": []}, "a enum fact needs 'values'"),
        ({"type": "date", "values": ["a"]}, "'values' belongs to enum and set facts, not date"),
        ({"type": "object", "fields": {}}, "a object fact needs 'fields'"),
        ({"type": "integer", "min": 0, "max": 1, "fields": {}}, "'fields' belongs to object and list facts, not integer"),
    ],
)
def test_each_fact_type_says_what_its_declaration_lacks_or_has_too_much(declaration: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        FactSpec.model_validate({"label": "Etikett", **declaration})
    assert [error["msg"] for error in info.value.errors()] == [f"Value error, {message}"]


def test_integer_zero_is_a_declared_bound() -> None:
    assert FactSpec.model_validate({"type": "integer", "label": "Ålder", "min": 0, "max": 0}).bounds == (0, 0)
