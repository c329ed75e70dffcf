"""The effect goals (api/goals/) never fail on what is stored, on SQLite and PostgreSQL.

Every JSON field the goal SQL reads gets values the API once accepted or a direct write could
leave (out-of-range and huge numbers, floats, strings, nulls, other JSON types).  They are
written straight into the database, as the API would refuse most of them today; the report,
the page and the command still answer, and none of those values is counted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import annotated_types
from sqlmodel import Session
from typer.testing import CliRunner

from api.auth import Role
from api.cli import app as cli
from api.events import HousingOutcomeRecorded
from api.models import Case, CaseEvent
from api.routes.pages import COOKIE
from tests.api.test_goals import cell, open_case, report
from tests.service import Service

# None of these is a meaningful number, boolean or child for any goal: 198503121234 is a personal
# identity number typed into an age field, which the API accepted until issue 11.
JUNK: list[Any] = [
    198503121234,
    -198503121234,
    2**63,
    10**30,
    10**400,
    1e300,
    -1e300,
    1.5,
    -1,
    "7",
    "true",
    "",
    "abc",
    None,
    False,
    [],
    [7],
    {},
    {"age": 9},
]
NOT_TEXT = [v for v in JUNK if not isinstance(v, str)]
# Payloads and facts that are not objects.  Never a bare number out of float range: SQLite's JSON
# column has numeric affinity and would keep it as the real inf, which is no JSON at all; the API
# only ever stored objects there.
NOT_OBJECTS: list[Any] = [198503121234, 1.5, "abc", None, False, [], [7]]
SCHOOL_CHILD = {"age": 9, "accompanying": True}
CHILD_VARIANTS: list[Any] = [
    *([{"age": v, "accompanying": True}] for v in JUNK),
    *([{"age": 9, "accompanying": v}] for v in JUNK),
    *([{"age": 3, "accompanying": True, "in_school": v}] for v in JUNK),
    *([v] for v in JUNK),  # a child that is not an object
    *JUNK,  # children that are not a list
]


class Writer:
    """Cases and events written straight into the service's database."""

    def __init__(self, service: Service) -> None:
        self.session = Session(service.client.app.state.engine)  # type: ignore[attr-defined]
        # A real case lends its process version, so the written cases look like the API's.
        template = open_case(service, "j-template", "2025-01-02")
        version = self.session.get(Case, uuid.UUID(template))
        assert version is not None
        self.version = version.process_version
        self.count = 0

    def case(self, facts: Any = None) -> uuid.UUID:
        self.count += 1
        row = Case(
            district="farsta",
            reference=f"j-{self.count}",
            facts=facts if facts is not None else {"age": 198503121234},
            opened=dt.date(2025, 1, 2),
            process_version=self.version,
        )
        self.session.add(row)
        return row.id

    def event(self, case_id: uuid.UUID, kind: str, on: str, payload: Any, facts: Any = None) -> None:
        self.session.add(
            CaseEvent(
                case_id=case_id,
                kind=kind,
                on=dt.date.fromisoformat(on),
                payload=payload,
                facts=facts,
                recorded_by="test",
            )
        )

    def commit(self) -> None:
        self.session.commit()
        self.session.close()


def write_junk(service: Service) -> tuple[int, int]:
    """Junk in every field the goal SQL reads, plus one good placement per goal; the expected
    denominators of goals 2 and 5 (each numerator is 1, from the good placement)."""
    w = Writer(service)

    def placement_ended(completed: Any) -> uuid.UUID:
        cid = w.case()
        w.event(cid, "placement_started", "2025-02-01", {})
        w.event(cid, "placement_ended", "2025-03-01", {"completed": completed})
        return cid

    # Goal 2: the placement, the contract's length and its type.
    good = placement_ended(True)
    w.event(good, "housing_outcome", "2025-03-02", {"type": "lodger", "contract_months": 12})
    for value in JUNK:
        placement_ended(value)
        w.event(placement_ended(True), "housing_outcome", "2025-03-02", {"type": "lodger", "contract_months": value})
    for value in NOT_TEXT:
        w.event(placement_ended(True), "housing_outcome", "2025-03-02", {"type": value, "contract_months": 12})
    for payload in NOT_OBJECTS:
        placement_ended(True)
        cid = w.case()
        w.event(cid, "placement_ended", "2025-03-01", payload)
        w.event(placement_ended(True), "housing_outcome", "2025-03-02", payload)
    housing = 1 + len(JUNK) + len(NOT_TEXT) + 2 * len(NOT_OBJECTS)

    # Goal 5: the children in the facts at the placement, each child's fields, the child index.
    def placed(children: Any, facts: Any = None) -> uuid.UUID:
        snapshot = facts if facts is not None else {"age": 198503121234, "children": children}
        cid = w.case(snapshot)
        w.event(cid, "placement_started", "2025-04-01", {}, snapshot)
        return cid

    w.event(placed([SCHOOL_CHILD]), "schooling_started", "2025-04-03", {"child": 0})
    for children in CHILD_VARIANTS:
        placed(children)
    for facts in NOT_OBJECTS:
        if facts is not None:
            placed(None, facts)
    for value in JUNK:
        w.event(placed([SCHOOL_CHILD]), "schooling_started", "2025-04-03", {"child": value})
    for payload in NOT_OBJECTS:
        w.event(placed([SCHOOL_CHILD]), "schooling_started", "2025-04-03", payload)
    schooling = 1 + len(JUNK) + len(NOT_OBJECTS)
    w.commit()
    return housing, schooling


def test_no_stored_value_breaks_the_report_the_page_or_the_command(service: Service) -> None:
    housing, schooling = write_junk(service)

    data = report(service, year=2025)
    assert cell(data, 2, 2025) == (1, housing, round(1 / housing, 4), False)
    assert cell(data, 5, 2025) == (1, schooling, round(1 / schooling, 4), False)
    assert cell(data, 5, 2025, None)[:2] == (1, schooling)

    service.client.cookies.set(COOKIE, service.headers(Role.manager)["Authorization"].removeprefix("Bearer "))
    page = service.client.get("/ui/goals", params={"years": "2024-2025"})
    assert page.status_code == 200, page.text[-2000:]
    service.client.cookies.clear()

    url = service.settings.database_url
    result = CliRunner().invoke(cli, ["goals", "--year", "2025", "--format", "csv", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert f"2,stable_housing,2025,farsta,Farsta stadsdelsförvaltning,1,{housing}," in result.output


def test_the_longest_contract_counted_is_the_longest_the_api_accepts() -> None:
    """Goal 2 does not count a contract longer than the API takes (a typing error, not housing)."""
    from api.goals import MAX_CONTRACT_MONTHS

    bounds = HousingOutcomeRecorded.model_fields["contract_months"].metadata
    assert [b.le for b in bounds if isinstance(b, annotated_types.Le)] == [MAX_CONTRACT_MONTHS]
