"""The log holds no personal data: one JSON line per request with the route's template and the
request id, incidents by type and place; on SQLite and PostgreSQL, in process and as served."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from api.logs import LOG_CONFIG, JsonFormatter
from tests.service import ServerProcess, Service, copy_processes, settings_for

PIN = "19850312-3772"
# The pieces a reader could put together again.
PIECES = ("850312", "3772", "8503123772")
FACTS = {"age": 34, "entry_channel": "self_referral", "needs": ["financial"], "consent_joint_handling": True}


def service_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    # httpx logs the test client's own requests, query string included: that is the caller's log.
    return [record for record in caplog.records if not record.name.startswith(("httpx", "httpcore"))]


def lines(records: list[logging.LogRecord]) -> list[str]:
    formatter = JsonFormatter()
    return [formatter.format(record) for record in records]


def leaked(text: str, *ids: str) -> list[str]:
    """The pieces of PIN in ``text``, once the ids the service made up are taken out."""
    for made_up in ids:
        text = text.replace(made_up, "")
    return [piece for piece in PIECES if piece in text]


def everything(record: logging.LogRecord) -> str:
    # What any handler could write: the message, its arguments, the traceback it would print.
    exc = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
    return " ".join([record.getMessage(), repr(record.args), exc, record.exc_text or "", json.dumps(vars(record), default=str)])


def create(service: Service) -> dict[str, Any]:
    body = {"district": "farsta", "reference": "klient-0001", "facts": FACTS, "opened": "2025-02-03"}
    response = service.client.post("/cases", json=body, headers=service.headers())
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_refused_query_leaves_no_trace_and_its_line_has_template_and_request_id(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    case = create(service)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        response = service.client.get(f"/cases/{case['id']}/next-steps", params={"today": PIN}, headers=service.headers())
    assert response.status_code == 422
    request_id = response.headers["x-request-id"]
    records = service_records(caplog)
    assert records
    for record, line in zip(records, lines(records), strict=True):
        assert leaked(everything(record) + line, request_id, case["id"]) == []
    [access] = [json.loads(line) for line in lines(records) if json.loads(line)["logger"] == "brytupp.access"]
    assert access["path"] == "/cases/{case_id}/next-steps"
    assert access["method"] == "GET" and access["status"] == 422 and access["request_id"] == request_id
    assert isinstance(access["duration_ms"], float)
    assert case["id"] not in json.dumps(access), "the template, not the concrete path"


def test_a_request_without_a_route_is_unmatched(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="brytupp.access"):
        response = service.client.get(f"/nowhere/{PIN}?x={PIN}")
    assert response.status_code == 404
    records = service_records(caplog)
    [line] = [json.loads(line) for line in lines(records) if "brytupp.access" in line]
    assert line["path"] == "unmatched" and line["status"] == 404


@pytest.mark.parametrize("kind", ["unexpected", "database"])
def test_an_incident_is_logged_by_type_and_place_only(
    service: Service, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    import api.routes.decide

    detail = f"DETAIL: Key (reference)=({PIN}) already exists; input_value='{PIN}'"

    def fail(*_args: object, **_kwargs: object) -> None:
        if kind == "database":
            raise IntegrityError("INSERT INTO case (reference) VALUES (%(reference)s)", {"reference": PIN}, Exception(detail))
        raise RuntimeError(detail)

    monkeypatch.setattr(api.routes.decide, "checked_facts", fail)
    with caplog.at_level(logging.DEBUG):
        response = service.client.post(
            "/decide", json={"district": "farsta", "opened": "2025-02-03", "facts": FACTS}, headers=service.headers()
        )
    assert response.status_code == 500
    incident = response.json()["detail"].removeprefix("internal error (incident ").removesuffix(")")
    request_id = response.headers["x-request-id"]
    records = service_records(caplog)
    assert response.headers["x-frame-options"] == "DENY", "the 500 is answered inside the middlewares"
    for record, line in zip(records, lines(records), strict=True):
        assert record.exc_info is None
        assert leaked(everything(record) + line, request_id, incident) == []
    [logged] = [json.loads(line) for line in lines(records) if '"incident"' in line]
    assert logged["incident"] == incident and logged["request_id"] == request_id
    assert logged["exception"] == ("sqlalchemy.exc.IntegrityError" if kind == "database" else "RuntimeError")
    assert logged["where"][-1].startswith("tests.api.test_logs:fail:")
    assert any(frame.startswith("api.routes.decide:what_if:") for frame in logged["where"])
    [access] = [json.loads(line) for line in lines(records) if "brytupp.access" in line]
    assert access["status"] == 500 and access["path"] == "/decide"


def test_the_formatter_keeps_tracebacks_and_messages_of_any_logger_out() -> None:
    try:
        raise ValueError(f"invalid value {PIN}")
    except ValueError:
        error = sys.exc_info()
    uvicorn = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application\n", None, error)
    chatty = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, '%s - "GET %s"', ("127.0.0.1", f"/x?p={PIN}"), None)
    for record in (uvicorn, chatty):
        assert leaked(JsonFormatter().format(record)) == []
    line = json.loads(JsonFormatter().format(uvicorn))
    assert line["exception"] == "ValueError" and line["where"][0].startswith("tests.api.test_logs:")


def test_the_served_log_is_json_without_query_values(database_url: str, tmp_path: Path) -> None:
    assert LOG_CONFIG["loggers"]["uvicorn.access"]["handlers"] == []
    server = ServerProcess(settings_for(database_url, copy_processes(tmp_path)), tmp_path).start()
    try:
        headers = server.headers()
        body = {"district": "farsta", "reference": "klient-0001", "facts": FACTS, "opened": "2025-02-03"}
        case = httpx.post(server.url + "/cases", json=body, headers=headers).json()
        refused = httpx.get(f"{server.url}/cases/{case['id']}/next-steps", params={"today": PIN}, headers=headers)
        assert refused.status_code == 422
    finally:
        server.stop()
    text = server.log.read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [r for r in records if r["logger"] == "brytupp.access"]
    assert [(r["method"], r["path"], r["status"]) for r in access][-2:] == [
        ("POST", "/cases", 201),
        ("GET", "/cases/{case_id}/next-steps", 422),
    ]
    assert access[-1]["request_id"] == refused.headers["x-request-id"]
    assert leaked(text, *(r.get("request_id", "") for r in records)) == []
    assert "uvicorn.access" not in text
