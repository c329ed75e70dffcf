"""What the API accepts as facts and completions (issue 11), on SQLite and PostgreSQL: numbers
within their declared range, lists no longer than declared, outcomes the step declares, and
answers that never repeat what was sent, not even text shaped like an id."""

from __future__ import annotations

from typing import Any

import pytest

from tests.service import Service

FACTS = {"age": 34, "entry_channel": "self_referral", "needs": ["financial"]}
# Free text that looks like an id: what a caseworker might type where an id belongs.
SENT = "anna_andersson"


def create(service: Service, facts: dict[str, Any], reference: str = "k-1") -> Any:
    body = {"district": "farsta", "reference": reference, "facts": facts, "opened": "2025-02-03"}
    return service.client.post("/cases", json=body, headers=service.headers())


def what_if(service: Service, facts: dict[str, Any], completed: list[dict[str, Any]] | None = None) -> Any:
    body = {"district": "farsta", "facts": facts, "opened": "2025-02-03", "today": "2025-02-03", "completed": completed or []}
    return service.client.post("/decide", json=body, headers=service.headers())


def event(service: Service, case_id: str, **body: Any) -> Any:
    return service.client.post(f"/cases/{case_id}/events", json={"on": "2025-02-04", **body}, headers=service.headers())


def problems(response: Any) -> list[tuple[list[Any], str]]:
    assert response.status_code == 422, response.text
    return [(p["loc"], p["msg"]) for p in response.json()["detail"]]


class TestRanges:
    def test_a_number_outside_its_declared_range_is_refused_without_repeating_it(self, service: Service) -> None:
        response = create(service, {**FACTS, "age": 4711, "children": [{"age": 3}, {"age": 1999}]})
        assert problems(response) == [
            (["body", "facts", "age"], "expected a whole number from 0 to 120"),
            (["body", "facts", "children", 1, "age"], "expected a whole number from 0 to 17"),
        ]
        assert "4711" not in response.text and "1999" not in response.text

    def test_the_ends_of_a_range_are_accepted(self, service: Service) -> None:
        assert create(service, {**FACTS, "age": 120, "children": [{"age": 0}, {"age": 17}]}).status_code == 201

    def test_what_if_refuses_a_number_outside_its_range(self, service: Service) -> None:
        response = what_if(service, {**FACTS, "housing_outcome": {"type": "lodger", "contract_months": 12001}})
        assert problems(response) == [
            (["body", "facts", "housing_outcome", "contract_months"], "expected a whole number from 0 to 1200")
        ]


class TestListLength:
    def test_at_most_15_children(self, service: Service) -> None:
        children = [{"age": 5, "witnessed_violence": True}] * 15
        assert what_if(service, {**FACTS, "children": children}).status_code == 200
        response = what_if(service, {**FACTS, "children": [*children, {"age": 5}]})
        assert problems(response) == [(["body", "facts", "children"], "expected at most 15 children")]

    def test_1500_children_are_refused_before_anything_is_decided(self, service: Service) -> None:
        response = what_if(service, {**FACTS, "children": [{"age": 5, "witnessed_violence": True}] * 1500})
        assert problems(response) == [(["body", "facts", "children"], "expected at most 15 children")]


class TestOutcomes:
    def test_a_step_records_only_the_outcomes_it_declares(self, service: Service) -> None:
        case = create(service, FACTS).json()
        response = event(service, case["id"], kind="step_completed", step="actualisation", outcome=SENT)
        assert problems(response) == [(["body", "outcome"], "this step records no outcome")]
        response = event(service, case["id"], kind="step_completed", step="follow_up", outcome=SENT)
        assert problems(response) == [
            (
                ["body", "outcome"],
                "the outcomes of this step are ongoing, needs_met, stable_housing, declined, moved_away, "
                "moved_district, returned_to_perpetrator",
            )
        ]
        assert SENT not in response.text
        assert event(service, case["id"], kind="step_completed", step="actualisation").status_code == 201
        stored = event(service, case["id"], kind="step_completed", step="follow_up", outcome="needs_met")
        assert stored.status_code == 201, stored.text
        assert stored.json()["payload"]["completes"]["outcome"] == "needs_met"

    def test_closing_keeps_its_reason_as_the_outcome(self, service: Service) -> None:
        case = create(service, FACTS).json()
        response = event(service, case["id"], kind="case_closed", reason=SENT)
        assert problems(response) == [
            (
                ["body", "reason"],
                "not a closure reason of this process; the reasons are declined, moved_away, moved_district, "
                "needs_met, returned_to_perpetrator, stable_housing",
            )
        ]
        closed = event(service, case["id"], kind="case_closed", reason="declined")
        assert closed.status_code == 201, closed.text
        assert closed.json()["payload"]["completes"] == {"step": "closed_declined", "on": "2025-02-04", "outcome": "declined"}

    def test_a_closing_step_completed_directly_records_only_its_reason(self, service: Service) -> None:
        case = create(service, FACTS).json()
        response = event(service, case["id"], kind="step_completed", step="closed_declined", outcome="needs_met")
        assert problems(response) == [(["body", "outcome"], "the outcomes of this step are declined")]

    def test_what_if_refuses_an_outcome_its_step_does_not_declare(self, service: Service) -> None:
        completed = [{"step": "actualisation", "on": "2025-02-03"}, {"step": "follow_up", "on": "2025-02-03", "outcome": SENT}]
        response = what_if(service, FACTS, completed)
        assert problems(response) == [
            (
                ["body", "completed", 1, "outcome"],
                "the outcomes of this step are ongoing, needs_met, stable_housing, declined, moved_away, "
                "moved_district, returned_to_perpetrator",
            )
        ]
        completed[1]["outcome"] = "ongoing"
        assert what_if(service, FACTS, completed).status_code == 200


class TestNothingSentIsRepeated:
    def test_an_unknown_fact_is_reported_at_the_facts(self, service: Service) -> None:
        response = create(service, {**FACTS, "agee": 3, SENT: 1})
        [(loc, message)] = problems(response)
        assert loc == ["body", "facts"]
        assert message.startswith("2 unknown facts; the facts are district, age, children,")
        assert message.endswith("; did you mean 'age'?")
        assert SENT not in response.text and "agee" not in response.text

    def test_an_unknown_field_of_a_child_is_reported_at_the_child(self, service: Service) -> None:
        response = create(service, {**FACTS, "children": [{"age": 3}, {"age": 4, SENT: True}]})
        assert problems(response) == [
            (
                ["body", "facts", "children", 1],
                "unknown field; the fields are age, witnessed_violence, subjected_to_violence, accompanying, "
                "in_school, investigation_needed",
            )
        ]
        assert SENT not in response.text

    @pytest.mark.parametrize(
        ("facts", "loc", "message"),
        [
            ({"risk_level": SENT}, ["body", "facts", "risk_level"], "expected one of low, medium, high"),
            ({"risk_level": "hihg"}, ["body", "facts", "risk_level"], "expected one of low, medium, high; did you mean 'high'?"),
            (
                {"needs": ["housing", SENT]},
                ["body", "facts", "needs"],
                "item 2 is not one of financial, housing, practical, health, substance, disability, psychiatric, legal",
            ),
            ({"report_received": SENT}, ["body", "facts", "report_received"], "expected a date, YYYY-MM-DD"),
        ],
    )
    def test_a_value_that_is_not_allowed_is_not_repeated(
        self, service: Service, facts: dict[str, Any], loc: list[Any], message: str
    ) -> None:
        for response in (create(service, {**FACTS, **facts}), what_if(service, {**FACTS, **facts})):
            assert problems(response) == [(loc, message)]
            assert SENT not in response.text and "hihg" not in response.text

    def test_an_unknown_step_is_not_repeated(self, service: Service) -> None:
        case = create(service, FACTS).json()
        response = event(service, case["id"], kind="step_completed", step=SENT)
        [(loc, message)] = problems(response)
        assert loc == ["body", "step"] and message.startswith("not a step of farsta's process")
        assert SENT not in response.text
        response = event(service, case["id"], kind="step_completed", step="child_protection_assessment")
        assert problems(response) == [
            (["body", "child"], "this step is done per child: give the index of a child in facts.children")
        ]

    def test_what_if_with_an_unknown_step_names_none(self, service: Service) -> None:
        response = what_if(service, FACTS, [{"step": SENT, "on": "2025-02-03"}])
        assert response.status_code == 409
        assert "not a step of this process" in response.text and SENT not in response.text


class TestValuesOfTheWrongShape:
    @pytest.mark.parametrize("needs", [[["housing"]], [{"a": 1}], [1.5], [None]])
    def test_a_set_item_that_is_no_value_is_422_never_500(self, service: Service, needs: list[Any]) -> None:
        """A list or an object among a set's items could not be hashed and answered 500."""
        assert problems(create(service, {**FACTS, "needs": needs})) == [
            (["body", "facts", "needs"], "item 1 is not one of " + ", ".join(NEEDS))
        ]
        assert what_if(service, {**FACTS, "needs": needs}).status_code == 422
        case = create(service, FACTS, reference="k-2").json()
        headers = service.headers() | {"If-Match": '"1"'}
        put = service.client.put(f"/cases/{case['id']}/facts", json={"facts": {**FACTS, "needs": needs}}, headers=headers)
        assert put.status_code == 422


NEEDS = ("financial", "housing", "practical", "health", "substance", "disability", "psychiatric", "legal")
