"""No personal identity number gets in, and no submitted text comes back, on SQLite and PostgreSQL.

The guard reads every string, number, key and header a client controls; what it
refuses it names by place, never by value.  Dates and timestamps, which are
digits too, must still pass.  Validation errors say what is allowed and never
repeat the input.
"""

from __future__ import annotations

import asyncio
import json
import random
import types
import uuid
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.requests import Request

from api.auth import Role
from api.errors import ApiError, field_problems
from api.guards import no_personal_numbers
from api.pseudonym import MAX_DEPTH, looks_like_pin, number_looks_like_pin
from api.schemas import CaseCreate
from tests.service import Service

FACTS = {"age": 34, "entry_channel": "self_referral", "needs": ["financial"], "consent_joint_handling": True}
NAME = "Anna Andersson"
PIN_MESSAGE = "personal identity number"

# Written as people paste them: separators anywhere, word-processor dashes and spaces,
# invisible characters, full-width digits.
PINS = [
    "850312-3577",
    "19850312-3772",
    "198503121234",
    "85-03-12-3577",
    "8503.12.3577",
    "85:03:12:3577",
    "85_03_12_3577",
    "85 03 12 35 77",
    "850312+3577",
    "850312 - 3577",
    "1985-03-12-3577",
    "850312\u20133577",  # en dash
    "850312\u22123577",  # minus sign
    "850312\u00a03577",  # no-break space
    "8503\u200b12\u200b3577",  # zero-width space
    "850312\u00ad3577",  # soft hyphen
    "\uff18\uff15\uff10\uff13\uff11\uff12\uff0d\uff13\uff15\uff17\uff17",  # full-width
    "850372-3577",  # samordningsnummer: day + 60
    "pnr 850312-3577 2 barn",
]
NOT_PINS = [
    "2025-03-12",
    "2025-03-12T10:05:30",
    "2025-03-12T10:05:30.123456",
    "2025-03-12T10:05:30.123456+01:00",
    "2025-03-12 10:05:30",
    "2025-03-12T10:05Z",
    "10:05:30.123456",
    "2023-2025",
    "klient-0001",
    "0d4f1a6e-8c1b-4b6f-9a3e-2f5c7d9e1b20",
    "12345678-1234-1234-1234-123456789012",
    "1234567890123",  # thirteen digits
    "123456789012",  # twelve, not 19 or 20 first
    "8501321234",  # the 32nd
    "851312-1234",  # the 13th month
]


@pytest.mark.parametrize("text", PINS)
def test_pins_are_seen_however_they_are_written(text: str) -> None:
    assert looks_like_pin(text)


@pytest.mark.parametrize("text", NOT_PINS)
def test_dates_timestamps_and_ids_are_not_pins(text: str) -> None:
    assert not looks_like_pin(text)


@pytest.mark.parametrize("number", [198503121234, 8503123577, 8503123577.0, 850312.3577, -8503123577])
def test_numbers_that_look_like_pins(number: float) -> None:
    assert number_looks_like_pin(number)


@pytest.mark.parametrize("number", [34, 20250312, 0, 2.5, True, 1e300, 123456789012])
def test_ordinary_numbers(number: float) -> None:
    assert not number_looks_like_pin(number)


def create(service: Service, reference: str = "klient-0001", **body: Any) -> dict[str, Any]:
    payload = {"district": "farsta", "reference": reference, "facts": FACTS, "opened": "2025-02-03", **body}
    response = service.client.post("/cases", json=payload, headers=service.headers())
    assert response.status_code == 201, response.text
    return dict(response.json())


def refused(response: Any, *secrets: str) -> list[list[Any]]:
    """The 422's locations, after checking that none of ``secrets`` (nor their digits) came back."""
    assert response.status_code == 422, response.text
    echoed = response.text + json.dumps(dict(response.headers))
    for secret in secrets:
        digits = "".join(c for c in secret if c.isdigit())
        assert secret not in echoed
        assert not digits or digits[-4:] not in echoed
    return [problem["loc"] for problem in response.json()["detail"]]


def pin_refused(response: Any, *secrets: str) -> list[list[Any]]:
    locs = refused(response, *secrets)
    assert PIN_MESSAGE in response.text
    return locs


def page_refused(response: Any, secret: str) -> str:
    """A page's 422 for a personal number: no echo, said in Swedish; the field it names."""
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html"), response.text
    digits = "".join(c for c in secret if c.isdigit())
    assert secret not in response.text and digits[-4:] not in response.text
    assert "ser ut som ett personnummer" in response.text
    return response.text.split("(fältet ", 1)[1].split(")", 1)[0]


class TestBody:
    @pytest.mark.parametrize("pin", PINS)
    def test_a_pin_in_free_text_is_refused_however_written(self, service: Service, pin: str) -> None:
        body = {"district": "farsta", "reference": "k-1", "facts": {**FACTS, "comment": pin}}
        locs = pin_refused(service.client.post("/cases", json=body, headers=service.headers()), pin)
        # "comment" is no declared fact: a key the client chose is not named back.
        assert locs == [["body", "facts"]]

    @pytest.mark.parametrize("pin", ["85-03-12-3577", "8503.12.3577", "85:03:12:3577", "85_03_12_3577", "1985-03-12-3577"])
    def test_a_reference_with_separators_everywhere_is_refused(self, service: Service, pin: str) -> None:
        body = {"district": "farsta", "reference": pin}
        assert pin_refused(service.client.post("/cases", json=body, headers=service.headers()), pin) == [["body", "reference"]]

    @pytest.mark.parametrize("number", [198503121234, 8503123577])
    def test_a_json_number_is_refused(self, service: Service, number: int) -> None:
        body = {"district": "farsta", "reference": "k-1", "facts": {**FACTS, "age": number}}
        locs = pin_refused(service.client.post("/cases", json=body, headers=service.headers()), str(number))
        assert locs == [["body", "facts", "age"]]

    def test_a_number_inside_a_list_is_refused(self, service: Service) -> None:
        facts = {**FACTS, "children": [{"age": 4}, {"age": 198503121234}]}
        body = {"district": "farsta", "reference": "k-1", "facts": facts}
        locs = pin_refused(service.client.post("/cases", json=body, headers=service.headers()), "198503121234")
        assert locs == [["body", "facts", "children", 1, "age"]]

    def test_the_what_if_question_is_checked_too(self, service: Service) -> None:
        body = {"district": "farsta", "opened": "2025-02-03", "facts": {**FACTS, "age": 198503121234}}
        response = service.client.post("/decide", json=body, headers=service.headers())
        assert pin_refused(response, "198503121234") == [["body", "facts", "age"]]

    def test_a_pin_as_a_key_names_the_object_not_the_key(self, service: Service) -> None:
        body = {"district": "farsta", "reference": "k-1", "facts": {**FACTS, "19850312-3772": 1}}
        locs = pin_refused(service.client.post("/cases", json=body, headers=service.headers()), "19850312-3772")
        assert locs == [["body", "facts"]]

    def test_an_event_is_checked(self, service: Service) -> None:
        case = create(service)
        event = {"kind": "outcome_recorded", "on": "2025-02-04", "outcome": "x", "note": "19850312-3772"}
        response = service.client.post(f"/cases/{case['id']}/events", json=event, headers=service.headers())
        # No event declares a "note": the key is the client's, and the event is named instead.
        assert pin_refused(response, "19850312-3772") == [["body"]]

    @pytest.mark.parametrize(
        ("raw", "loc"),
        [
            ('{"district": "farsta", "reference": "k-1", "facts": {"age": "a\\ud800b"}}', ["body", "facts", "age"]),
            ('{"district": "farsta", "reference": "k-1", "facts": {"\\udfff": 1}}', ["body", "facts"]),
            ('{"district": "farsta", "reference": "k-1", "facts": {"comment": "a\\u0000b"}}', ["body", "facts"]),
        ],
    )
    def test_text_no_database_can_store_is_a_422(self, service: Service, raw: str, loc: list[Any]) -> None:
        headers = service.headers() | {"content-type": "application/json"}
        response = service.client.post("/cases", content=raw.encode(), headers=headers)
        assert refused(response) == [loc]

    def test_a_form_post_is_checked(self, service: Service) -> None:
        headers = {"origin": "http://testserver", "content-type": "application/x-www-form-urlencoded"}
        response = service.client.post("/ui/login", content=b"token=x&next=%2Fui%3Fp%3D19850312-3772", headers=headers)
        # A page's refusal is a page (in Swedish), naming the field and never the value.
        assert page_refused(response, "19850312-3772") == "next"


class TestQueryPathHeaders:
    def test_a_query_value_is_refused(self, service: Service) -> None:
        case = create(service)
        response = service.client.get(
            f"/cases/{case['id']}/next-steps", params={"today": "19850312-3772"}, headers=service.headers()
        )
        assert pin_refused(response, "19850312-3772") == [["query", "today"]]

    def test_a_query_name_is_refused_without_naming_it(self, service: Service) -> None:
        case = create(service)
        response = service.client.get(f"/cases/{case['id']}", params={"19850312-3772": "1"}, headers=service.headers())
        assert pin_refused(response, "19850312-3772") == [["query"]]

    def test_a_pin_in_the_path_is_refused(self, service: Service) -> None:
        response = service.client.get("/cases/19850312-3772", headers=service.headers())
        assert pin_refused(response, "19850312-3772") == [["path", "case_id"]]

    def test_the_idempotency_key_is_refused_and_nothing_stored(self, service: Service) -> None:
        case = create(service)
        before = service.client.get(f"/cases/{case['id']}/events", headers=service.headers()).json()
        event = {"kind": "step_completed", "on": "2025-02-03", "step": "actualisation"}
        headers = service.headers() | {"Idempotency-Key": "19850312-3772"}
        response = service.client.post(f"/cases/{case['id']}/events", json=event, headers=headers)
        assert pin_refused(response, "19850312-3772") == [["header", "idempotency-key"]]
        assert service.client.get(f"/cases/{case['id']}/events", headers=service.headers()).json() == before

    @pytest.mark.parametrize("value", ["8503.12.3577", "85\u201303\u201312\u20133577"])
    def test_any_header_value_is_refused(self, service: Service, value: str) -> None:
        response = service.client.get("/health", headers={"X-Note": value.encode()})
        assert pin_refused(response, value) == [["header"]]
        response = service.client.get("/health", headers={"X-Forwarded-For": value.encode()})
        assert pin_refused(response, value) == [["header", "x-forwarded-for"]]

    def test_a_header_name_is_refused_without_naming_it(self, service: Service) -> None:
        response = service.client.get("/health", headers={"X-850312-3577": "1"})
        assert pin_refused(response, "850312-3577") == [["header"]]


class TestDatesStillPass:
    def test_a_decision_date_in_the_query(self, service: Service) -> None:
        case = create(service)
        response = service.client.get(
            f"/cases/{case['id']}/next-steps", params={"today": "2025-03-12"}, headers=service.headers()
        )
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("since", ["2025-03-12T10:05:30.123456", "2025-03-12T10:05:30+01:00", "2025-03-12 10:05:30"])
    def test_timestamps_in_the_query(self, service: Service, since: str) -> None:
        response = service.client.get("/audit", params={"since": since}, headers=service.headers(Role.manager))
        assert response.status_code == 200, response.text

    def test_a_timestamp_idempotency_key_and_dates_in_the_body(self, service: Service) -> None:
        case = create(service)
        event = {"kind": "step_completed", "on": "2025-03-12", "step": "actualisation"}
        headers = service.headers() | {"Idempotency-Key": "2025-03-12T10:05:30.123456+01:00"}
        response = service.client.post(f"/cases/{case['id']}/events", json=event, headers=headers)
        assert response.status_code == 201, response.text

    def test_what_if_with_dates(self, service: Service) -> None:
        body = {"district": "farsta", "facts": FACTS, "opened": "2025-03-12", "today": "2025-04-01"}
        response = service.client.post("/decide", json=body, headers=service.headers())
        assert response.status_code == 200, response.text


class TestValidationDoesNotEcho:
    def test_an_unknown_event_kind_lists_the_kinds(self, service: Service) -> None:
        case = create(service)
        event = {"kind": NAME, "on": "2025-02-03"}
        response = service.client.post(f"/cases/{case['id']}/events", json=event, headers=service.headers())
        [problem] = response.json()["detail"]
        refused(response, NAME)
        assert problem["msg"].startswith("unknown kind; the kinds are step_completed, ")

    def test_an_unknown_field_is_named_by_its_object(self, service: Service) -> None:
        case = create(service)
        event = {"kind": "step_completed", "on": "2025-02-03", "step": "actualisation", NAME: 1}
        response = service.client.post(f"/cases/{case['id']}/events", json=event, headers=service.headers())
        [problem] = response.json()["detail"]
        refused(response, NAME)
        assert problem["loc"] == ["body", "step_completed"]
        assert problem["msg"] == "unknown field; the fields are child, kind, on, outcome, step"

    @pytest.mark.parametrize("key", [NAME, "Anna"])
    def test_an_unknown_top_level_field(self, service: Service, key: str) -> None:
        response = service.client.post(
            "/cases", json={"district": "farsta", "reference": "k-1", key: 1}, headers=service.headers()
        )
        [problem] = response.json()["detail"]
        refused(response, key)
        assert problem["loc"] == ["body"]
        assert problem["msg"] == "unknown field; the fields are district, facts, opened, reference"

    def test_an_unknown_field_in_a_list_item(self, service: Service) -> None:
        body = {
            "district": "farsta",
            "opened": "2025-02-03",
            "completed": [{"step": "actualisation", "on": "2025-02-03", NAME: 2}],
        }
        response = service.client.post("/decide", json=body, headers=service.headers())
        [problem] = response.json()["detail"]
        refused(response, NAME)
        assert problem["loc"] == ["body", "completed", 0]
        assert problem["msg"].startswith("unknown field; the fields are ")

    @pytest.mark.parametrize("path", ["/cases/Anna-Andersson", "/cases/Anna%20Andersson"])
    def test_a_malformed_case_id(self, service: Service, path: str) -> None:
        response = service.client.get(path, headers=service.headers())
        [problem] = response.json()["detail"]
        refused(response, "Anna", "`")
        assert problem == {"loc": ["path", "case_id"], "msg": "Input should be a valid UUID", "type": "uuid_parsing"}

    def test_a_malformed_date(self, service: Service) -> None:
        case = create(service)
        event = {"kind": "step_completed", "on": NAME, "step": "actualisation"}
        response = service.client.post(f"/cases/{case['id']}/events", json=event, headers=service.headers())
        [problem] = response.json()["detail"]
        refused(response, NAME, "Anna")
        assert problem["msg"] == "Input should be a valid date in the format YYYY-MM-DD"

    def test_a_malformed_timestamp_in_the_query(self, service: Service) -> None:
        response = service.client.get("/audit", params={"since": NAME}, headers=service.headers(Role.manager))
        refused(response, NAME, "Anna")

    @pytest.mark.parametrize("key", [NAME, "Anna Andersson<script>"])
    def test_a_malformed_idempotency_key(self, service: Service, key: str) -> None:
        case = create(service)
        event = {"kind": "step_completed", "on": "2025-02-03", "step": "actualisation"}
        headers = service.headers() | {"Idempotency-Key": key}
        response = service.client.post(f"/cases/{case['id']}/events", json=event, headers=headers)
        assert refused(response, NAME, "Anna") == [["header", "Idempotency-Key"]]

    def test_a_name_as_an_unknown_fact_value_type(self, service: Service) -> None:
        body = {"district": "farsta", "reference": "k-1", "facts": {**FACTS, "age": NAME}}
        response = service.client.post("/cases", json=body, headers=service.headers())
        refused(response, NAME, "Anna")

    def test_malformed_json(self, service: Service) -> None:
        headers = service.headers() | {"content-type": "application/json"}
        response = service.client.post("/cases", content=b'{"reference": Anna Andersson}', headers=headers)
        refused(response, NAME, "Anna")


# --- found in an attacker's review ---------------------------------------------------------------


def guard(headers: dict[str, str], method: str = "GET", path: str = "/health") -> None:
    """The guard itself, on a request with these headers (no HTTP: thousands of ids stay fast)."""
    app = types.SimpleNamespace(state=types.SimpleNamespace())
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "path_params": {},
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "app": app,
    }
    asyncio.run(no_personal_numbers(Request(scope)))


class TestContentTypeDoesNotDecide:
    ATTACK = b'{"district":"farsta","reference":"&token=","reference":"19850312-3772","facts":{"age":34}}'

    def stored_references(self, service: Service) -> list[str]:
        response = service.client.get("/cases", headers=service.headers(Role.manager))
        if response.status_code != 200:
            return []
        return [case.get("reference", "") for case in response.json()]

    def test_json_under_a_form_type_is_read_as_json(self, service: Service) -> None:
        headers = service.headers() | {"content-type": "application/x-www-form-urlencoded+json"}
        response = service.client.post("/cases", content=self.ATTACK, headers=headers)
        assert pin_refused(response, "19850312-3772") == [["body", "reference"]]
        assert "19850312-3772" not in self.stored_references(service)

    @pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded", "text/plain"])
    def test_every_duplicate_key_is_checked(self, service: Service, content_type: str) -> None:
        body = b'{"district":"farsta","reference":"19850312-3772","reference":"k-1","facts":{"age":34}}'
        response = service.client.post("/cases", content=body, headers=service.headers() | {"content-type": content_type})
        assert pin_refused(response, "19850312-3772") == [["body", "reference"]]

    @pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", "multipart/form-data; boundary=b", ""])
    def test_a_body_that_is_not_json_is_read_as_a_form(self, service: Service, content_type: str) -> None:
        headers = service.headers() | {"content-type": content_type}
        response = service.client.post("/cases", content=b"district=farsta&reference=19850312-3772", headers=headers)
        assert pin_refused(response, "19850312-3772") == [["body", "reference"]]

    def test_a_token_field_is_read_off_the_login_page(self, service: Service) -> None:
        headers = service.headers() | {"content-type": "application/x-www-form-urlencoded"}
        response = service.client.post("/cases", content=b"district=farsta&token=19850312-3772", headers=headers)
        assert pin_refused(response, "19850312-3772") == [["body"]]


SAME_SITE = {"origin": "http://testserver"}


class TestLoginPage:
    @pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=b", "application/json"])
    def test_a_pin_in_any_body_is_refused_and_not_echoed(self, service: Service, content_type: str) -> None:
        headers = SAME_SITE | {"content-type": content_type}
        response = service.client.post("/ui/login", content=b"token=bad&next=/ui/19850312-3772", headers=headers)
        assert page_refused(response, "19850312-3772") == "next"

    @pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=b", "application/json", ""])
    def test_only_the_form_is_read(self, service: Service, content_type: str) -> None:
        headers = SAME_SITE | {"content-type": content_type}
        response = service.client.post("/ui/login", content=b"token=bad&next=/ui/Anna_Andersson", headers=headers)
        assert response.status_code == 415
        assert "Anna" not in response.text

    def test_a_failed_login_does_not_echo_next(self, service: Service) -> None:
        response = service.client.post("/ui/login", data={"token": "bad", "next": "/ui/Anna_Andersson"}, headers=SAME_SITE)
        assert response.status_code == 401
        assert "Anna" not in response.text
        assert 'name="next" value="/ui"' in response.text


class TestLocationsNameOnlyDeclaredKeys:
    def test_a_query_parameter_the_route_does_not_declare(self, service: Service) -> None:
        response = service.client.get("/health", params={"Anna_Andersson_Storgatan": "1985.03.12.3772"})
        assert pin_refused(response, "Anna", "1985.03.12.3772") == [["query"]]

    def test_a_fact_the_process_does_not_declare(self, service: Service) -> None:
        body = {"district": "farsta", "reference": "k-1", "facts": {**FACTS, "anna_andersson": 198503123772}}
        response = service.client.post("/cases", json=body, headers=service.headers())
        assert pin_refused(response, "anna", "198503123772") == [["body", "facts"]]

    def test_a_nested_key_the_process_does_not_declare(self, service: Service) -> None:
        facts = {**FACTS, "children": [{"age": 4, "anna": {"age": 198503123772}}]}
        response = service.client.post("/cases", json={"district": "farsta", "facts": facts}, headers=service.headers())
        assert pin_refused(response, "anna", "198503123772") == [["body", "facts", "children", 0]]

    def test_a_header_the_service_does_not_know(self, service: Service) -> None:
        response = service.client.get("/health", headers={"X-Anna-Andersson": "19850312-3772"})
        assert pin_refused(response, "anna", "19850312-3772") == [["header"]]

    def test_validation_errors_follow_the_same_rule(self) -> None:
        def endpoint(case: CaseCreate) -> None: ...

        route = APIRoute("/cases", endpoint, methods=["POST"])
        errors = [
            {"type": "int_parsing", "loc": ("body", "facts", "anna_andersson"), "msg": "x"},
            {"type": "int_parsing", "loc": ("body", "reference"), "msg": "x"},
        ]
        assert [p["loc"] for p in field_problems(errors, route)] == [["body", "facts"], ["body", "reference"]]


def traceparent(rng: random.Random) -> str:
    return f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01"


class TestOpaqueIdsInHeaders:
    def test_random_trace_and_idempotency_ids_pass(self) -> None:
        rng = random.Random(20250312)
        refused = []
        for _ in range(3000):
            key = uuid.UUID(int=rng.getrandbits(128), version=4).hex
            parent = traceparent(rng)
            amazon = f"Root=1-{rng.getrandbits(32):08x}-{rng.getrandbits(96):024x};Sampled=1"
            b3 = f"{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-1"
            try:
                guard({"Idempotency-Key": key, "traceparent": parent, "X-Amzn-Trace-Id": amazon, "b3": b3})
            except ApiError:
                refused.append((key, parent, amazon, b3))
        assert refused == []

    @pytest.mark.parametrize("header", ["Idempotency-Key", "traceparent", "X-Amzn-Trace-Id", "X-B3-TraceId"])
    @pytest.mark.parametrize("pin", ["19850312-3772", "198503123772", "8503123577", "850312-3577"])
    def test_a_real_number_in_those_headers_is_still_refused(self, header: str, pin: str) -> None:
        with pytest.raises(ApiError) as refused:
            guard({header: pin})
        assert refused.value.fields == [
            {"loc": ["header", header.lower()], "msg": refused.value.fields[0]["msg"], "type": "value_error"}
        ]

    def test_a_number_beside_a_trace_id_is_refused(self) -> None:
        with pytest.raises(ApiError):
            guard({"Idempotency-Key": "19850312-3772-0d4f1a6e8c1b4b6f"})
        with pytest.raises(ApiError):
            guard({"X-Note": "0d4f1a6e8c1b4b6f9a3e2f5c7d9e1b20 19850312-3772"})


def nested(depth: int) -> bytes:
    return b'{"district":"farsta","reference":"k-1","facts":{"x":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}}"


class TestDepth:
    @pytest.mark.parametrize("depth", [40, 940, 2000])
    def test_deep_nesting_is_a_422_naming_the_bound(self, service: Service, depth: int) -> None:
        headers = service.headers() | {"content-type": "application/json"}
        response = service.client.post("/cases", content=nested(depth), headers=headers)
        assert response.status_code == 422, response.text
        [problem] = response.json()["detail"]
        assert problem["loc"] in (["body"], ["body", "facts"])
        assert f"deeper than {MAX_DEPTH} levels" in problem["msg"]

    def test_deep_lists_too(self, service: Service) -> None:
        body = b"[" * 5000 + b"]" * 5000
        response = service.client.post("/decide", content=body, headers=service.headers() | {"content-type": "application/json"})
        assert response.status_code == 422 and f"deeper than {MAX_DEPTH} levels" in response.text

    def test_ordinary_facts_are_well_within_the_bound(self, service: Service) -> None:
        facts = {**FACTS, "children": [{"age": 4, "witnessed_violence": True}]}
        response = service.client.post(
            "/cases", json={"district": "farsta", "reference": "k-2", "facts": facts}, headers=service.headers()
        )
        assert response.status_code == 201, response.text
