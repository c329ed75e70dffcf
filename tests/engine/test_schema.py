"""The JSON Schema for editors is generated from the models and committed."""

from __future__ import annotations

import json

from engine.schema import json_schema, json_schema_text

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
