"""The effect of a process version on a district's open cases (api/impact.py): the replay that
classifies every open case, and the migration that moves those that fit.  SQLite and PostgreSQL.

One target edits Farsta's file three ways at once, each touching other cases:
the intake role goes to the RVT (units differ), the preliminary assessment of a child gets
5 days instead of 10 (due dates differ, some become overdue), and emergency financial aid is
removed (a case waiting for it gets other next steps; one that has had it cannot be migrated)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from api.auth import Principal, Role
from api.impact import Impact, migrate_cases, open_cases, replay
from api.models import AuditRecord, CaseEvent
from api.versions import Sources
from engine import CompiledProcess
from tests.service import Service

TODAY = dt.date(2025, 2, 10)
FACTS = {"age": 34, "entry_channel": "self_referral", "needs": ["financial"], "consent_joint_handling": True}
CHILD = {"age": 7, "witnessed_violence": False, "accompanying": False, "in_school": True}
INTAKE = ["actualisation", "intake_registration"]
SAFETY = [*INTAKE, "initial_safety_assessment"]

EDITS = [
    ("  intake: mottagningsenheten\n", "  intake: relationsvaldsteamet\n"),
    (
        "    deadline:\n      within: 10d\n      from: report_received",
        "    deadline:\n      within: 5d\n      from: report_received",
    ),
    ("steps:\n", "steps:\n  emergency_financial_aid:\n    remove: true\n"),
]
MOTTAGNINGEN = "Mottagningsenheten, individ- och familjeomsorg"
RVT = "Relationsvåldsteamet (RVT)"
OWNER = Principal(subject="processagare-farsta", role=Role.implementer, district="farsta")


def create(service: Service, reference: str, steps: list[tuple[str, int | None]], district: str = "farsta", **facts: Any) -> str:
    body = {"district": district, "reference": reference, "facts": {**FACTS, **facts}, "opened": "2025-02-03"}
    headers = service.headers(district=district)
    response = service.client.post("/cases", json=body, headers=headers)
    assert response.status_code == 201, response.text
    case_id = str(response.json()["id"])
    for step, child in steps:
        event = {"kind": "step_completed", "on": "2025-02-03", "step": step, **({"child": child} if child is not None else {})}
        done = service.client.post(f"/cases/{case_id}/events", json=event, headers=headers)
        assert done.status_code == 201, done.text
    return case_id


def once(*steps: str) -> list[tuple[str, int | None]]:
    return [(step, None) for step in steps]


def farsta_file(service: Service) -> Path:
    return service.settings.processes[1] / "farsta.yaml"


def edited(service: Service, edits: list[tuple[str, str]] = EDITS) -> str:
    text = farsta_file(service).read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def draft(service: Service, edits: list[tuple[str, str]] = EDITS) -> CompiledProcess:
    """The edited Farsta file as a draft: compiled, stored nowhere."""
    central = service.settings.processes[0] / "bryt_upp.yaml"
    text = edited(service, edits)
    return Sources(str(central), central.read_text(encoding="utf-8"), str(farsta_file(service)), text).compile()


def publish(service: Service) -> CompiledProcess:
    farsta_file(service).write_text(edited(service), encoding="utf-8")
    assert service.registry.reload()
    compiled: CompiledProcess = service.registry.current("farsta")
    return compiled


def version_of(service: Service) -> Callable[[str], CompiledProcess]:
    def built(version: str) -> CompiledProcess:
        compiled: CompiledProcess | None = service.registry.version(version)
        if compiled is None:
            raise LookupError("not served")
        return compiled

    return built


def engine_of(service: Service) -> Any:
    return service.client.app.state.engine  # type: ignore[attr-defined]


@pytest.fixture
def cases(service: Service) -> dict[str, str]:
    """One Farsta case per kind of effect, a case left as it is, a closed one and one in Järva."""
    made = {
        "intake": create(service, "k-intake", once("actualisation")),
        "child": create(
            service,
            "k-child",
            [*once(*SAFETY), ("child_protection_assessment", 0)],
            children=[CHILD],
            needs=[],
            report_received="2025-02-03",
        ),
        "aid_open": create(service, "k-bistand", once(*SAFETY)),
        "aid_given": create(service, "k-bistand-klar", once(*SAFETY, "emergency_financial_aid")),
        "untouched": create(service, "k-lugn", once(*SAFETY), needs=[]),
        "closed": create(service, "k-stangd", once(*SAFETY)),
        "jarva": create(service, "k-jarva", once("actualisation"), district="jarva"),
    }
    closed = {"kind": "case_closed", "on": "2025-02-05", "reason": "declined"}
    response = service.client.post(f"/cases/{made['closed']}/events", json=closed, headers=service.headers())
    assert response.status_code == 201, response.text
    return made


def replayed(service: Service, target: CompiledProcess) -> Impact:
    with Session(engine_of(service)) as session:
        return replay(session, "farsta", target, TODAY, version_of(service))


class TestReplayClassifiesEveryOpenCase:
    def test_each_case_gets_exactly_its_differences(self, service: Service, cases: dict[str, str]) -> None:
        target = draft(service)
        impact = replayed(service, target)
        assert (impact.district, impact.target_version, impact.today, impact.open_cases) == ("farsta", target.version, TODAY, 5)
        assert impact.counts.model_dump() == {
            "next_steps": 1,
            "units": 1,
            "due_dates": 1,
            "becomes_overdue": 1,
            "cannot_migrate": 1,
            "unchanged": 1,
            "before_unknown": 0,
            "already_on_target": 0,
        }
        listed = {str(c.case_id): c for c in impact.cases}
        assert set(listed) == {cases[k] for k in ("intake", "child", "aid_open", "aid_given")}
        assert listed[cases["intake"]].differences == [f"Steget Registrering och klassificering ansvar: {MOTTAGNINGEN} → {RVT}"]
        assert listed[cases["child"]].differences == [
            "Blir försenat: Förhandsbedömning (barn 1) (förföll 2025-02-08)",
            "Förfallodag för Förhandsbedömning (barn 1) 2025-02-13 → 2025-02-08",
        ]
        # The step after it, the needs assessment, waits for the investigation's branches too.
        assert listed[cases["aid_open"]].differences == ["Steget upphör: Akut ekonomiskt bistånd"]
        left = listed[cases["aid_given"]]
        assert left.differences == [] and left.reason == (
            f"Historiken passar inte version {target.version}: Akut ekonomiskt bistånd finns inte i versionen."
        )
        assert {c.from_version for c in impact.cases} == {service.registry.current("farsta").version}

    def test_the_answer_holds_case_ids_and_labels_never_references_or_facts(
        self, service: Service, cases: dict[str, str]
    ) -> None:
        text = replayed(service, draft(service)).model_dump_json()
        for secret in ("k-intake", "k-bistand", "self_referral", "financial", "witnessed_violence", "report_received"):
            assert secret not in text

    def test_a_case_whose_own_version_cannot_be_read_is_replayed_with_an_unknown_before(
        self, service: Service, cases: dict[str, str]
    ) -> None:
        def unreadable(version: str) -> CompiledProcess:
            raise LookupError(version)

        target = draft(service)
        with Session(engine_of(service)) as session:
            impact = replay(session, "farsta", target, TODAY, unreadable)
        assert impact.counts.before_unknown == 5 and impact.counts.cannot_migrate == 1 and impact.counts.unchanged == 0
        intake = next(c for c in impact.cases if str(c.case_id) == cases["intake"])
        current = service.registry.current("farsta").version
        assert intake.differences == [
            f"Nuläget är okänt: ärendets version {current} kan inte läsas.",
            "Öppna steg efter flytt: Registrering och klassificering",
        ]

    def test_cases_on_the_target_already_are_counted_and_not_compared(self, service: Service, cases: dict[str, str]) -> None:
        current = service.registry.current("farsta")
        impact = replayed(service, current)
        assert impact.counts.already_on_target == 5 and impact.cases == []

    def test_reading_is_a_statement_for_the_cases_and_one_per_chunk_for_their_logs(
        self, service: Service, cases: dict[str, str]
    ) -> None:
        from sqlalchemy import event

        statements: list[str] = []
        # The service's own threads (following the process versions, the deny list) query the same pool.
        here = threading.get_ident()

        def count(*args: Any) -> None:
            if threading.get_ident() == here and args[2].lstrip().upper().startswith("SELECT"):
                statements.append(args[2])

        engine = engine_of(service)
        event.listen(engine, "before_cursor_execute", count)
        try:
            replayed(service, draft(service))
            replay_selects = len(statements)
            statements.clear()
            with Session(engine) as session:
                chunks = [[str(case.id) for case in chunk] for chunk in open_cases(session, "farsta", chunk=2)]
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert replay_selects == 2
        assert [len(chunk) for chunk in chunks] == [2, 2, 1] and len(statements) == 4
        assert sorted(case for chunk in chunks for case in chunk) == sorted(
            cases[k] for k in ("intake", "child", "aid_open", "aid_given", "untouched")
        )


class TestMigrationMovesWhatFits:
    def test_cases_that_fit_move_the_others_are_left_with_the_reason_and_every_case_is_audited(
        self, service: Service, cases: dict[str, str]
    ) -> None:
        before = service.registry.current("farsta").version
        target = publish(service)
        report = migrate_cases(engine_of(service), "farsta", target, TODAY, OWNER, batch_size=2, version_of=version_of(service))
        assert (report.moved, report.already_on_target) == (4, 0)
        [left] = report.left
        assert str(left.case_id) == cases["aid_given"]
        assert left.reason == f"Historiken passar inte version {target.version}: Akut ekonomiskt bistånd finns inte i versionen."
        with Session(engine_of(service)) as session:
            audits = session.exec(select(AuditRecord).where(AuditRecord.action == "migrated")).all()
            migrated = session.exec(select(CaseEvent).where(CaseEvent.kind == "migrated").order_by(col(CaseEvent.id))).all()
        assert sorted((str(a.case_id), a.outcome, a.subject) for a in audits) == sorted(
            [(cases[k], "ok", OWNER.subject) for k in ("intake", "child", "aid_open", "untouched")]
            + [(cases["aid_given"], "not_migrated", OWNER.subject)]
        )
        assert {str(e.case_id) for e in migrated} == {cases[k] for k in ("intake", "child", "aid_open", "untouched")}
        assert all(
            e.payload == {"from_district": "farsta", "from_version": before, "to_version": target.version} for e in migrated
        )
        # A moved case is decided on the target; the one left stays where it was.
        steps = service.client.get(
            f"/cases/{cases['intake']}/next-steps", params={"today": "2025-02-10"}, headers=service.headers()
        )
        assert steps.json()["process_version"] == target.version
        assert steps.json()["next_steps"][0]["unit"]["label"] == RVT
        kept = service.client.get(f"/cases/{cases['aid_given']}", headers=service.headers()).json()
        assert kept["process_version"] == before
        jarva = service.client.get(f"/cases/{cases['jarva']}", headers=service.headers(district="jarva")).json()
        assert jarva["process_version"] == service.registry.current("jarva").version

    def test_a_second_run_moves_nothing(self, service: Service, cases: dict[str, str]) -> None:
        target = publish(service)
        first = migrate_cases(engine_of(service), "farsta", target, TODAY, OWNER)
        again = migrate_cases(engine_of(service), "farsta", target, TODAY, OWNER)
        assert (first.moved, again.moved, again.already_on_target) == (4, 0, 4)
        assert [str(c.case_id) for c in again.left] == [cases["aid_given"]]
        # Without the case's own version the reason cannot name the step, but still says what is wrong.
        assert again.left[0].reason.startswith(f"Historiken passar inte version {target.version}: ")
        assert replayed(service, target).counts.already_on_target == 4

    def test_the_single_case_route_refuses_the_case_the_migration_leaves(self, service: Service, cases: dict[str, str]) -> None:
        target = publish(service)
        refused = service.client.post(f"/cases/{cases['aid_given']}/migrate", headers=service.headers())
        assert refused.status_code == 409
        assert "history does not fit process version" in refused.json()["detail"]
        moved = service.client.post(f"/cases/{cases['aid_open']}/migrate", headers=service.headers())
        assert moved.status_code == 200 and moved.json()["process_version"] == target.version
        assert moved.json()["row_version"] == 5  # opened, three steps, moved
