"""schemathesis against the live OpenAPI spec, on SQLite and PostgreSQL: no server
errors, and every answer is one the spec documents (status, content type, body).

For every operation: schemathesis's coverage phase (boundary and negated values), then
a bounded number of generated requests, positive and negative, deterministic.  Each is
sent through the fixture's TestClient with a token of a role that may use the operation
or of one that may not (or none); positive ``/cases/{case_id}/…`` requests often name a
case that exists, and positive bodies often name a real district, unit or step, so the
requests get past the first check.  Before that, a fixed set of requests is sent that
must succeed (so every success answer is checked too) and one of edge cases that once
were server errors or undocumented answers.  Every answer goes through the same checks;
failures are collected, and the test fails listing each with a curl command.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import hypothesis
import hypothesis.errors
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import Case as GenericCase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.auth import Role, mint
from tests.service import Service

Case = GenericCase[Any]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 15}
BASE = "http://testserver"
FACTS = {"age": 34, "entry_channel": "self_referral", "needs": ["financial"], "consent_joint_handling": True}
CHILDREN = [{"age": 8, "accompanying": True, "in_school": False}] * 3
OPENED = "2025-02-03"
CASES = "/cases/{case_id}"
EVENTS = "/cases/{case_id}/events"

# Who sends a generated request: mostly a role the operation is for, now and then one it is not.
ROLES = {
    "default": ["caseworker"] * 6 + ["manager", "implementer", "other_district", "none", "bad"],
    "/decide": ["caseworker"] * 3 + ["implementer"] * 2 + ["manager", "none"],
    "/processes": ["caseworker", "manager", "implementer", "district_implementer", "owner", "none"],
    "/proposals": ["owner"] * 3 + ["district_implementer", "none"],
    "/units": ["manager"] * 3 + ["caseworker"] * 3 + ["implementer", "none"],
    "/audit": ["manager"] * 4 + ["caseworker", "implementer", "bad"],
    "/reports": ["manager"] * 4 + ["caseworker", "implementer", "none"],
    # A logout revokes the token it is sent with: each gets a token of its own.
    "/auth": ["fresh"] * 3 + ["none", "bad"],
}


def roles_for(path: str) -> list[str]:
    return next((roles for prefix, roles in ROLES.items() if path.startswith(prefix)), ROLES["default"])


def send(service: Service, case: Case) -> Any:
    """The case as schemathesis's own requests transport puts it on the wire, sent through the TestClient."""
    kwargs = case.as_transport_kwargs(base_url=BASE)
    prepared = requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        json=kwargs.get("json"),
        data=kwargs.get("data"),
        cookies=kwargs.get("cookies"),
    ).prepare()
    assert prepared.method is not None and prepared.url is not None
    headers = [
        (name.encode("latin-1"), value.encode("latin-1") if isinstance(value, str) else value)
        for name, value in prepared.headers.items()
        if name.lower() != "content-length"
    ]
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    return service.client.request(prepared.method, prepared.url, headers=headers, content=body)


class Run:
    """Sends cases and checks the answers, keeping the first failure of each kind per operation."""

    def __init__(self, service: Service, schema: Any) -> None:
        self.service = service
        self.schema = schema
        self.failures: dict[tuple[str, str], str] = {}
        self.statuses: dict[str, Counter[int]] = {}
        self.tokens = {
            "caseworker": service.headers(Role.caseworker, "farsta"),
            "other_district": service.headers(Role.caseworker, "bromma", subject="bo"),
            "manager": service.headers(Role.manager, None, subject="maja"),
            "implementer": service.headers(Role.implementer, None, subject="ivar"),
            # Farsta's process owner, and the city's (who approves what the other drafts).
            "district_implementer": {"Authorization": "Bearer " + mint(service.settings, "ida", Role.implementer, "farsta")},
            "owner": {"Authorization": "Bearer " + mint(service.settings, "olle", Role.process_owner)},
            "none": {},
            "bad": {"Authorization": "Bearer not-a-token"},
        }

    def check(self, case: Case, role: str = "caseworker", headers: dict[str, str] | None = None) -> Any:
        token = self.service.headers(Role.caseworker, "farsta", subject="ut") if role == "fresh" else self.tokens[role]
        case.headers.update({**token, **(headers or {})})
        response = send(self.service, case)
        self.statuses.setdefault(case.operation.label, Counter())[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                key = (case.operation.label, failure.title)
                if key not in self.failures:
                    curl = case.as_curl_command(headers=dict(response.request.headers), base_url=BASE)
                    self.failures[key] = (
                        f"{failure.title}: {failure.message}\n    {curl}\n    -> {response.status_code} {response.text[:500]}"
                    )
        return response

    def do(
        self,
        method: str,
        path: str,
        role: str = "caseworker",
        headers: dict[str, str] | None = None,
        expect: int | None = None,
        **parts: Any,
    ) -> Any:
        """An explicit request, checked as a generated one is, and answered with ``expect`` if given."""
        media_type = "application/json" if "body" in parts else None
        response = self.check(self.schema[path][method].Case(media_type=media_type, **parts), role, headers)
        if expect is not None and response.status_code != expect:
            key = (f"{method} {path}", f"expected {expect} #{len(self.failures)}")
            self.failures[key] = f"expected {expect}, got {response.status_code} {response.text[:500]}"
        return response

    def raw(
        self, method: str, path: str, role: str, text: str, headers: dict[str, str] | None = None, **parts: Any
    ) -> Any:
        """A process file sent as written (a YAML body schemathesis would serialise as one string), checked the same way."""
        case = self.schema[path][method].Case(media_type="application/yaml", **parts)
        url = path.format(**parts.get("path_parameters", {}))
        sent = {**self.tokens[role], **(headers or {}), "Content-Type": "application/yaml"}
        response = self.service.client.request(method, url, content=text.encode(), headers=sent)
        self.statuses.setdefault(case.operation.label, Counter())[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            self.failures[(case.operation.label, "raw")] = "; ".join(f.title for f in group.exceptions) + " " + response.text[:300]
        return response

    def report(self) -> str:
        return "\n\n".join(f"{label}\n  {text}" for (label, _), text in sorted(self.failures.items()))


def create_case(run: Run, reference: str, **facts: Any) -> str:
    body = {"district": "farsta", "reference": reference, "facts": {**FACTS, **facts}, "opened": OPENED}
    response = run.do("POST", "/cases", body=body)
    assert response.status_code == 201, response.text  # the rest of the run needs it
    return str(response.json()["id"])


def etag(run: Run, case_id: str) -> dict[str, str]:
    return {"If-Match": run.service.client.get(f"/cases/{case_id}", headers=run.tokens["caseworker"]).headers["ETag"]}


def valid_requests(run: Run) -> None:
    """A request per operation that must succeed."""
    cid = create_case(run, "st-valid-1")
    moved = create_case(run, "st-valid-2")
    at = {"case_id": cid}
    run.do("GET", CASES, path_parameters=at)
    run.do("PUT", f"{CASES}/facts", headers=etag(run, cid), path_parameters=at, body={"facts": {**FACTS, "age": 35}})
    step = {"kind": "step_completed", "step": "actualisation", "on": OPENED}
    run.do("POST", EVENTS, headers={"Idempotency-Key": "st-1"}, expect=201, path_parameters=at, body=step)
    run.do("POST", EVENTS, headers={"Idempotency-Key": "st-1"}, expect=200, path_parameters=at, body=step)  # replayed
    run.do("POST", EVENTS, path_parameters=at, body={"kind": "consent_given", "consent": "health_care", "on": OPENED})
    run.do("GET", EVENTS, path_parameters=at)
    run.do("GET", f"{CASES}/next-steps", path_parameters=at)
    run.do("GET", f"{CASES}/next-steps", path_parameters=at, query={"today": "2025-06-01"})
    run.do("POST", f"{CASES}/migrate", path_parameters=at)
    run.do("POST", f"{CASES}/transfer", path_parameters={"case_id": moved}, body={"district": "bromma"})
    run.do("POST", "/decide", body={"district": "farsta", "facts": FACTS, "opened": OPENED, "today": "2025-03-01"})
    run.do("POST", "/decide", "implementer", body={"district": "jarva", "facts": FACTS, "opened": OPENED})
    run.do("GET", "/processes", "implementer")
    run.do("GET", "/processes/{district}", "manager", path_parameters={"district": "farsta"})
    run.do("GET", "/units/{unit}/overdue", path_parameters={"unit": "mottagningsenheten"})
    run.do(
        "GET", "/units/{unit}/overdue", "manager", path_parameters={"unit": "mottagningsenheten"}, query={"district": "farsta"}
    )
    run.do("GET", "/units/{unit}/worklist", path_parameters={"unit": "mottagningsenheten"}, query={"limit": 5, "overdue": False})
    run.do("PUT", f"{CASES}/assignment", headers=etag(run, cid), path_parameters=at, body={"assigned_to": "me"})
    run.do("GET", "/audit", "manager", query={"limit": 5, "case_id": cid, "since": "2020-01-01T00:00:00Z", "subject": "anna"})
    run.do("GET", "/health", "none")
    run.do("POST", "/auth/logout", "fresh", expect=204)
    unit = {"unit": "mottagningsenheten"}
    routine = {"district": "farsta", "adopted": "2024-03-01"}
    run.do("PUT", "/units/{unit}/routine", "manager", expect=201, path_parameters=unit, body=routine)
    run.do("PUT", "/units/{unit}/routine", "implementer", expect=200, path_parameters=unit, body=routine)
    run.do("GET", "/units/routines", "implementer", query={"district": "farsta"})
    run.do("DELETE", "/units/{unit}/routine", "manager", expect=204, path_parameters=unit, query={"district": "farsta"})
    run.do("GET", "/reports/goals", "manager", query={"years": "2024-2025"})
    run.do("GET", "/reports/goals", "manager", query={"year": 2025, "district": "farsta", "format": "csv"})


def draft_requests(run: Run) -> None:
    """The review of a change, each operation once with success."""
    text = (run.service.settings.processes[1] / "farsta.yaml").read_text(encoding="utf-8").replace("within: 10d", "within: 8d")
    old = run.service.registry.current("farsta").version
    drafts, one = "/processes/{district}/drafts", "/processes/{district}/drafts/{draft_id}"
    made = run.raw("POST", drafts, "district_implementer", text, path_parameters={"district": "farsta"})
    assert made.status_code == 201, made.text  # the rest of the run needs it
    at = {"district": "farsta", "draft_id": made.json()["id"]}
    run.raw("PUT", one, "district_implementer", text, headers={"If-Match": '"1"'}, path_parameters=at)
    for view in ("", "/text", "/diagram.svg"):
        run.do("GET", one + view, "district_implementer", expect=200, path_parameters=at)
    run.do("POST", one + "/propose", "district_implementer", {"If-Match": '"2"'}, 200, path_parameters=at, body={"note": "x"})
    run.do("GET", "/proposals", "owner", expect=200)
    today = dt.datetime.now(ZoneInfo("Europe/Stockholm")).date().isoformat()
    approval = {"effective_from": today, "note": "Beslutat", "reference": "SOF 2026/1"}
    run.do("POST", one + "/approve", "owner", {"If-Match": '"3"'}, 200, path_parameters=at, body=approval)
    again = run.raw("POST", drafts, "district_implementer", text.replace("8d", "7d"), path_parameters={"district": "farsta"})
    at = {"district": "farsta", "draft_id": again.json()["id"]}
    run.do("POST", one + "/propose", "district_implementer", {"If-Match": '"1"'}, 200, path_parameters=at, body={})
    run.do("POST", one + "/reject", "owner", {"If-Match": '"2"'}, 200, path_parameters=at, body={"note": "Motivera"})
    new = run.service.registry.current("farsta").version
    versions = "/processes/{district}/versions"
    later = run.raw("POST", drafts, "district_implementer", text.replace("8d", "6d"), path_parameters={"district": "farsta"})
    at = {"district": "farsta", "draft_id": later.json()["id"]}
    run.do("POST", one + "/propose", "district_implementer", {"If-Match": '"1"'}, 200, path_parameters=at, body={})
    tomorrow = (dt.datetime.now(ZoneInfo("Europe/Stockholm")).date() + dt.timedelta(days=1)).isoformat()
    run.do("POST", one + "/approve", "owner", {"If-Match": '"2"'}, 200, path_parameters=at, body={"effective_from": tomorrow})
    scheduled = run.service.client.get(f"/processes/farsta/drafts/{at['draft_id']}/text", headers=run.tokens["owner"])
    assert scheduled.status_code == 200
    version = run.service.client.get("/processes/farsta/versions", headers=run.tokens["owner"]).json()[0]["version"]
    at = {"district": "farsta", "version": version}
    run.do("POST", versions + "/{version}/withdraw", "owner", expect=200, path_parameters=at, body={"note": "Ångrat"})
    run.do("GET", versions, "district_implementer", expect=200, path_parameters={"district": "farsta"})
    span = {"from": old, "to": new}
    run.do("GET", versions + "/compare", "owner", expect=200, path_parameters={"district": "farsta"}, query=span)
    run.do("GET", versions + "/compare.svg", "owner", expect=200, path_parameters={"district": "farsta"}, query=span)
    at = {"district": "farsta", "version": old}
    run.do("POST", versions + "/{version}/restore", "district_implementer", expect=201, path_parameters=at)
    at = {"district": "farsta", "version": new}
    run.do("POST", versions + "/{version}/migrations", "district_implementer", expect=200, path_parameters=at, body={"dry_run": True})


def edge_requests(run: Run) -> None:
    """Requests that once were server errors or undocumented answers, and other refusals worth a look."""
    manager_query = [
        {"subject": "a\x00b"},  # PostgreSQL text cannot hold NUL
        {"since": "0001-01-01T00:00:00+14:00"},  # before year 1 in UTC
        {"until": "9999-12-31T23:59:59-14:00"},  # after year 9999 in UTC
        {"since": "0001-01-01T00:00:00", "until": "9999-12-31T23:59:59"},
        {"case_id": "not-a-uuid", "limit": 0},
    ]
    for query in manager_query:
        run.do("GET", "/audit", "manager", query=query)
    # Bodies that are no JSON at all, or too large.
    run.do("POST", "/cases", body=b"\xff\xfe\x00{")
    run.do("POST", "/decide", body=b"{not json")
    run.do("POST", "/cases", body={"district": "farsta", "reference": "st-big", "facts": {"x": "y" * 70_000}})

    cid = create_case(run, "st-edge-1", children=CHILDREN)
    at = {"case_id": cid}
    facts = {"facts": FACTS}
    run.do("PUT", f"{CASES}/facts", path_parameters=at, body=facts)  # no If-Match: 428
    run.do("PUT", f"{CASES}/facts", headers={"If-Match": '"99"'}, path_parameters=at, body=facts)  # stale: 412
    run.do("PUT", f"{CASES}/facts", headers={"If-Match": "9" * 64}, path_parameters=at, body=facts)
    event = {"kind": "schooling_started", "child": 2, "on": "2025-03-01"}
    run.do("POST", EVENTS, headers={"Idempotency-Key": "st-2"}, path_parameters=at, body=event)
    run.do("POST", EVENTS, headers={"Idempotency-Key": "st-2"}, path_parameters=at, body={**event, "child": 1})  # 409
    # Facts dropping the child whose schooling is recorded would leave the case undecidable: refused.
    dropped = {"facts": {**FACTS, "children": CHILDREN[:1]}}
    run.do("PUT", f"{CASES}/facts", headers=etag(run, cid), expect=409, path_parameters=at, body=dropped)
    run.do("GET", "/units/{unit}/overdue", expect=200, path_parameters={"unit": "mottagningsenheten"})
    for today in ("0001-01-01", "9999-12-31"):
        run.do("GET", f"{CASES}/next-steps", path_parameters=at, query={"today": today})
        run.do("POST", "/decide", body={"district": "farsta", "facts": FACTS, "opened": today, "today": today})
    run.do("POST", f"{CASES}/transfer", path_parameters=at, body={"district": "farsta"})  # already there: 422
    run.do("POST", f"{CASES}/transfer", path_parameters=at, body={"district": "gotham"})  # unknown: 422
    run.do("POST", EVENTS, path_parameters=at, body={"kind": "case_closed", "reason": "nonsense", "on": "2025-03-01"})
    # A closed case: reads answer, changes are refused.
    run.do("POST", EVENTS, expect=201, path_parameters=at, body={"kind": "case_closed", "reason": "declined", "on": "2025-03-02"})
    run.do("PUT", f"{CASES}/facts", headers=etag(run, cid), path_parameters=at, body=facts)
    run.do("POST", EVENTS, path_parameters=at, body={"kind": "step_completed", "step": "actualisation", "on": "2025-03-03"})
    run.do("POST", f"{CASES}/transfer", path_parameters=at, body={"district": "bromma"})
    run.do("POST", f"{CASES}/migrate", path_parameters=at)
    run.do("GET", f"{CASES}/next-steps", path_parameters=at)
    # A personal identity number is refused whatever the spelling of the JSON media type.
    for media_type in ("Application/JSON", "application/merge-patch+json"):
        pin = {"district": "farsta", "reference": "19800101-1234"}
        run.do("POST", "/cases", headers={"Content-Type": media_type}, expect=422, body=pin)
    # Refusals by role, district and name.
    run.do("GET", "/processes/{district}", path_parameters={"district": "gotham"})
    run.do("GET", "/units/{unit}/overdue", path_parameters={"unit": "nobody"})
    run.do("GET", "/units/{unit}/overdue", "manager", path_parameters={"unit": "mottagningsenheten"})
    run.do("GET", "/units/{unit}/overdue", path_parameters={"unit": "mottagningsenheten"}, query={"district": "jarva"})
    run.do("GET", CASES, "other_district", path_parameters=at)
    run.do("GET", "/audit", "caseworker")


def steer(case: Case, real: bool) -> Case:
    """Half the positive requests name a real district, unit or step, so they get past the first check."""
    if not real:
        return case
    if isinstance(case.body, dict) and case.operation.path in ("/cases", "/decide"):
        case.body["district"] = "farsta"
    if isinstance(case.body, dict) and case.body.get("kind") == "step_completed":
        case.body["step"] = "actualisation"
    if case.path_parameters:
        for name, value in (("district", "farsta"), ("unit", "mottagningsenheten")):
            if name in case.path_parameters:
                case.path_parameters[name] = value
    if case.query and "district" in case.query:
        case.query["district"] = "farsta"
    return case


def on_existing_cases(operation: Any, case_ids: list[str]) -> st.SearchStrategy[Case]:
    return st.sampled_from(case_ids).flatmap(lambda cid: operation.as_strategy(path_parameters={"case_id": cid}))


def fuzz(run: Run, case_ids: list[str]) -> None:
    schema = run.schema
    for result in schema.get_all_operations():
        operation = result.ok()
        roles = roles_for(operation.path)
        has_case = "case_id" in {p.name for p in operation.path_parameters}

        # The coverage phase: boundary values and each constraint negated, as `schemathesis run` starts with.
        coverage = schema.iter_coverage_cases(
            operation,
            generation_modes=list(GenerationMode),
            generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
        )
        for i, case in enumerate(coverage):
            positive = case.meta is None or case.meta.generation.mode.is_positive
            if has_case and positive and i % 2 == 0:
                case.path_parameters = {**case.path_parameters, "case_id": case_ids[i // 2 % len(case_ids)]}
            run.check(steer(case, positive and i % 4 < 2), roles[i % len(roles)])

        for mode, examples in EXAMPLES.items():
            strategy = operation.as_strategy(generation_mode=mode)
            if mode.is_positive:
                if has_case:
                    strategy = st.one_of(strategy, on_existing_cases(operation, case_ids))
                strategy = st.tuples(strategy, st.booleans()).map(lambda pair: steer(*pair))

            @hypothesis.settings(
                max_examples=examples,
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.given(case=strategy, role=st.sampled_from(roles))
            def one(case: Case, role: str) -> None:
                run.check(case, role)

            try:
                one()
            except hypothesis.errors.Unsatisfiable:
                # Nothing to negate: an operation without parameters or body.
                assert not mode.is_positive, operation.label


def test_schemathesis_finds_no_server_errors_and_no_schema_violations(service: Service) -> None:
    spec = service.client.get("/openapi.json").json()
    run = Run(service, schemathesis.openapi.from_dict(spec, config=schemathesis.Config()))
    valid_requests(run)
    draft_requests(run)
    edge_requests(run)
    counter = itertools.count()
    case_ids = [create_case(run, f"st-case-{next(counter)}") for _ in range(2)]
    case_ids.append(create_case(run, f"st-case-{next(counter)}", children=CHILDREN))
    fuzz(run, case_ids)

    assert not run.failures, f"schemathesis found {len(run.failures)} problem(s):\n\n{run.report()}"
    operations = {result.ok().label for result in run.schema.get_all_operations()}
    succeeded = {label for label, statuses in run.statuses.items() if any(200 <= s < 300 for s in statuses)}
    assert succeeded == operations, f"no success answer from {sorted(operations - succeeded)}"
    print({label: dict(sorted(statuses.items())) for label, statuses in sorted(run.statuses.items())})
