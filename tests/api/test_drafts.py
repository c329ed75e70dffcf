"""Reviewed change of a process: a district's process owner drafts, the city's process owner
approves with a day it takes effect, every instance switches on that day, open cases are moved
deliberately; every step on the trail.  SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from api.auth import Role, mint
from api.models import AuditRecord
from tests.service import Service, copy_processes, settings_for

TIGHTER = ("within: 10d", "within: 7d")
# The intake moves to another unit: every open case at the start sees another responsible unit.
REASSIGNED = ("  intake: mottagningsenheten", "  intake: relationsvaldsteamet")
YAML = {"Content-Type": "application/yaml"}


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Europe/Stockholm")).date()


def implementer(service: Service, district: str = "farsta", subject: str = "ida") -> dict[str, str]:
    return {"Authorization": "Bearer " + mint(service.settings, subject, Role.implementer, district)}


def owner(service: Service, subject: str = "olle") -> dict[str, str]:
    return {"Authorization": "Bearer " + mint(service.settings, subject, Role.process_owner)}


def farsta_text(service: Service) -> str:
    return (service.settings.processes[1] / "farsta.yaml").read_text(encoding="utf-8")


def draft(service: Service, text: str, district: str = "farsta", headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer = service.client.post(
        f"/processes/{district}/drafts", content=text.encode(), headers={**(headers or implementer(service)), **YAML}
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def act(service: Service, stored: dict[str, Any], what: str, headers: dict[str, str], body: dict[str, Any]) -> Any:
    path = f"/processes/{stored['district']}/drafts/{stored['id']}/{what}"
    return service.client.post(path, json=body, headers={**headers, "If-Match": stored["etag"]})


def proposed(service: Service, text: str) -> dict[str, Any]:
    answer = act(service, draft(service, text), "propose", implementer(service), {"note": "Skärpt frist"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def approved(service: Service, text: str, on: dt.date | None = None) -> dict[str, Any]:
    body = {"effective_from": (on or today()).isoformat(), "note": "Beslutat", "reference": "SOF 2026/17"}
    answer = act(service, proposed(service, text), "approve", owner(service), body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def open_case(service: Service, reference: str = "ref-1") -> dict[str, Any]:
    body = {
        "district": "farsta",
        "reference": reference,
        "facts": {"age": 34},
        "opened": (today() - dt.timedelta(days=9)).isoformat(),
    }
    answer = service.client.post("/cases", json=body, headers=service.headers())
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def actions(service: Service) -> list[tuple[str, str, str]]:
    with Session(service.client.app.state.engine) as session:  # type: ignore[attr-defined]
        rows = session.exec(select(AuditRecord).where(AuditRecord.case_district == "farsta").order_by(col(AuditRecord.id)))
        return [(r.subject, r.action, r.outcome) for r in rows]


class TestADraft:
    def test_is_stored_as_written_and_previewed_against_the_live_version(self, service: Service) -> None:
        text = "# Farsta, skärpt frist för barnets förhandsbedömning\n" + farsta_text(service).replace(*TIGHTER)
        stored = draft(service, text)
        assert stored["status"] == "draft" and stored["findings"] == [] and stored["version"]
        assert stored["path"] == "local_overrides/farsta.yaml"
        written = service.client.get(f"/processes/farsta/drafts/{stored['id']}/text", headers=implementer(service))
        assert written.text == text
        preview = service.client.get(f"/processes/farsta/drafts/{stored['id']}", headers=implementer(service)).json()
        (farsta,) = preview["districts"]
        assert farsta["live_version"] == service.registry.current("farsta").version != farsta["draft_version"]
        assert any("10 dagar" in line and "7 dagar" in line for line in farsta["changes"]["lines"]), farsta["changes"]["lines"]
        assert preview["stale"] is False and farsta["impact"]["open_cases"] == 0
        svg = service.client.get(f"/processes/farsta/drafts/{stored['id']}/diagram.svg", headers=implementer(service))
        assert svg.status_code == 200 and svg.text.lstrip().startswith(("<?xml", "<svg"))

    def test_with_findings_is_stored_with_them_and_cannot_be_proposed(self, service: Service) -> None:
        stored = draft(service, farsta_text(service).replace("within: 10d", "within: 20d"))
        assert stored["version"] is None
        assert any(f.startswith("local_overrides/farsta.yaml:") and "loosens the deadline" in f for f in stored["findings"])
        answer = act(service, stored, "propose", implementer(service), {})
        assert answer.status_code == 409 and "finding" in answer.json()["detail"]
        fixed = service.client.put(
            f"/processes/farsta/drafts/{stored['id']}",
            content=farsta_text(service).replace(*TIGHTER).encode(),
            headers={**implementer(service), **YAML, "If-Match": stored["etag"]},
        )
        assert fixed.status_code == 200 and fixed.json()["findings"] == [] and fixed.json()["etag"] != stored["etag"]

    @pytest.mark.parametrize(
        ("path", "body", "headers", "status", "says"),
        [
            ("/processes/nowhere/drafts", "district: nowhere\n", YAML, 404, "no process for that district"),
            ("/processes/farsta/drafts", "steps: [\n  a: b", YAML, 422, "not YAML"),
            ("/processes/farsta/drafts", "district: jarva\nextends: bryt_upp\n", YAML, 422, "another district"),
            ("/processes/farsta/drafts", "process:\n  id: x\n", YAML, 422, "not a district file"),
            ("/processes/farsta/drafts", "district: farsta\n", {"Content-Type": "application/json"}, 415, "application/yaml"),
            ("/processes/farsta/drafts", "district: farsta\n" + "# x\n" * 100_000, YAML, 413, ""),
        ],
    )
    def test_bad_input_is_refused_and_nothing_is_stored(
        self, service: Service, path: str, body: str, headers: dict[str, str], status: int, says: str
    ) -> None:
        answer = service.client.post(path, content=body.encode(), headers={**implementer(service), **headers})
        assert answer.status_code == status, answer.text
        assert says in str(answer.json()["detail"])
        listed = service.client.get("/processes/farsta/drafts", headers=implementer(service))
        assert listed.json() == []

    def test_is_written_by_the_districts_own_process_owner_only(self, service: Service) -> None:
        text = farsta_text(service).encode()
        other = service.client.post("/processes/farsta/drafts", content=text, headers={**implementer(service, "jarva"), **YAML})
        no_district = service.client.post(
            "/processes/farsta/drafts", content=text, headers={**service.headers(Role.implementer), **YAML}
        )
        caseworker = service.client.post("/processes/farsta/drafts", content=text, headers={**service.headers(), **YAML})
        assert (other.status_code, no_district.status_code, caseworker.status_code) == (403, 403, 403)
        read = service.client.get("/processes/farsta/drafts", headers=implementer(service, "jarva"))
        assert read.status_code == 404
        assert ("ida", "draft_created", "denied") in actions(service)

    def test_every_district_file_can_be_submitted_as_it_is(self, service: Service) -> None:
        for path in sorted(service.settings.processes[1].glob("*.yaml")):
            stored = draft(service, path.read_text(encoding="utf-8"), path.stem, implementer(service, path.stem))
            assert stored["findings"] == [] and stored["version"] == service.registry.current(path.stem).version


class TestApproval:
    def test_four_eyes_roles_and_dates(self, service: Service) -> None:
        stored = proposed(service, farsta_text(service).replace(*TIGHTER))
        body = {"effective_from": today().isoformat()}
        assert act(service, stored, "approve", implementer(service), body).status_code == 403
        own = act(service, stored, "approve", owner(service, subject="ida"), body)
        assert own.status_code == 403 and "four eyes" in own.json()["detail"]
        past = act(service, stored, "approve", owner(service), {"effective_from": (today() - dt.timedelta(days=1)).isoformat()})
        assert past.status_code == 422 and "effective_from" in str(past.json()["detail"])
        stale = service.client.post(
            f"/processes/farsta/drafts/{stored['id']}/approve", json=body, headers={**owner(service), "If-Match": '"1"'}
        )
        assert stale.status_code == 412
        assert service.registry.current("farsta").version != stored["version"]
        assert ("ida", "draft_approved", "denied") in actions(service)

    def test_today_switches_every_instance_and_new_cases_get_the_new_version(self, service: Service, tmp_path: Path) -> None:
        with Service(settings_for(service.settings.database_url, copy_processes(tmp_path / "b"), watch_files=False)) as other:
            done = approved(service, farsta_text(service).replace(*TIGHTER))
            assert done["status"] == "approved" and done["decided_by"] == "olle"
            assert service.registry.current("farsta").version == done["version"]
            other.registry.follow()
            assert other.registry.current("farsta").version == done["version"]
            assert open_case(other)["process_version"] == done["version"]
        history = service.client.get("/processes/farsta/versions", headers=implementer(service)).json()
        assert history[0]["version"] == done["version"] and history[0]["status"] == "in_force"
        assert (history[0]["drafted_by"], history[0]["approved_by"], history[0]["reference"]) == ("ida", "olle", "SOF 2026/17")
        assert history[1]["status"] == "replaced"
        assert [a for _, a, o in actions(service) if o == "ok"][:3] == ["draft_created", "draft_proposed", "draft_approved"]

    def test_a_later_day_is_scheduled_and_switched_to_on_that_day(self, service: Service) -> None:
        live = service.registry.current("farsta").version
        tomorrow = today() + dt.timedelta(days=1)
        done = approved(service, farsta_text(service).replace(*TIGHTER), on=tomorrow)
        service.registry.follow()
        assert service.registry.current("farsta").version == live
        history = service.client.get("/processes/farsta/versions", headers=owner(service)).json()
        assert history[0]["status"] == "scheduled" and history[0]["effective_from"] == tomorrow.isoformat()
        # The day comes: the store's clock, the one thing a test cannot wait for.
        store = service.registry.store
        store.today = lambda: tomorrow
        assert service.registry.follow()
        assert service.registry.current("farsta").version == done["version"]

    def test_two_approvals_at_once_one_wins_the_other_is_a_conflict(self, service: Service) -> None:
        stored = proposed(service, farsta_text(service).replace(*TIGHTER))
        body = {"effective_from": today().isoformat()}
        answers: list[int] = []
        start = threading.Barrier(2)

        def approve(subject: str) -> None:
            start.wait()
            answers.append(act(service, stored, "approve", owner(service, subject), body).status_code)

        threads = [threading.Thread(target=approve, args=(s,)) for s in ("olle", "petra")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(answers) == [200, 409], answers
        history = service.client.get("/processes/farsta/versions", headers=owner(service)).json()
        assert sum(1 for h in history if h["draft_id"] == stored["id"]) == 1

    def test_a_draft_written_before_another_approval_cannot_be_approved(self, service: Service) -> None:
        late = proposed(service, farsta_text(service).replace("within: 10d", "within: 8d"))
        approved(service, farsta_text(service).replace(*TIGHTER))
        preview = service.client.get(f"/processes/farsta/drafts/{late['id']}", headers=owner(service)).json()
        assert preview["stale"] is True
        answer = act(service, late, "approve", owner(service), {"effective_from": today().isoformat()})
        assert answer.status_code == 409 and "changed since" in answer.json()["detail"]

    def test_rejected_with_a_note_and_written_again(self, service: Service) -> None:
        stored = proposed(service, farsta_text(service).replace(*TIGHTER))
        assert act(service, stored, "reject", owner(service), {}).status_code == 422
        rejected = act(service, stored, "reject", owner(service), {"note": "Motivera fristen"})
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
        queue = service.client.get("/proposals", headers=owner(service)).json()
        assert all(d["id"] != stored["id"] for d in queue)


class TestHistoryAndCases:
    def test_compare_restore_and_move_the_open_cases(self, service: Service) -> None:
        old = service.registry.current("farsta").version
        case = open_case(service)
        done = approved(service, farsta_text(service).replace(*REASSIGNED))
        compared = service.client.get(
            "/processes/farsta/versions/compare", params={"from": old, "to": done["version"]}, headers=implementer(service)
        )
        assert compared.status_code == 200 and compared.json()["changes"]["lines"]
        svg = service.client.get(
            "/processes/farsta/versions/compare.svg", params={"from": old, "to": done["version"]}, headers=implementer(service)
        )
        assert svg.status_code == 200 and "<svg" in svg.text
        path = f"/processes/farsta/versions/{done['version']}/migrations"
        dry = service.client.post(path, json={"dry_run": True}, headers=implementer(service)).json()
        assert dry["open_cases"] == 1 and [c["case_id"] for c in dry["cases"]] == [case["id"]], dry
        assert dry["counts"]["units"] == 1, dry
        assert service.client.post(path, json={"dry_run": True}, headers=owner(service)).status_code == 403
        moved = service.client.post(path, json={"dry_run": False}, headers=implementer(service)).json()
        assert moved["moved"] == 1 and moved["left"] == []
        again = service.client.post(path, json={"dry_run": False}, headers=implementer(service)).json()
        assert again["moved"] == 0 and again["already_on_target"] == 1
        restored = service.client.post(f"/processes/farsta/versions/{old}/restore", headers=implementer(service))
        assert restored.status_code == 201 and restored.json()["version"] == old and restored.json()["status"] == "draft"


class TestTheCentralProcess:
    def test_a_central_change_is_previewed_for_every_district_and_approved_by_another_owner(self, service: Service) -> None:
        central = service.settings.processes[0] / "bryt_upp.yaml"
        text = central.read_text(encoding="utf-8").replace(
            "label: Förhandsbedömning\n", "label: Förhandsbedömning av barnets situation\n"
        )
        stored = draft(service, text, "central", owner(service, "petra"))
        assert stored["findings"] == [], stored["findings"]
        preview = service.client.get(f"/processes/central/drafts/{stored['id']}", headers=owner(service)).json()
        assert len(preview["districts"]) == 11
        assert act(service, stored, "propose", implementer(service), {}).status_code == 403
        assert act(service, stored, "propose", owner(service, "petra"), {}).status_code == 200
        stored = service.client.get(f"/processes/central/drafts/{stored['id']}", headers=owner(service)).json()["draft"]
        assert (
            act(service, stored, "approve", owner(service, "petra"), {"effective_from": today().isoformat()}).status_code == 403
        )
        before = {d: service.registry.current(d).version for d in service.registry.snapshot.districts}
        assert act(service, stored, "approve", owner(service), {"effective_from": today().isoformat()}).status_code == 200
        after = {d: service.registry.current(d).version for d in service.registry.snapshot.districts}
        assert all(before[d] != after[d] for d in before)


class TestWhatAReviewFound:
    """Each of these was possible before: a reviewer's attempts, kept."""

    def test_a_central_preview_shows_a_district_only_its_own_cases(self, service: Service) -> None:
        farsta = open_case(service)
        body = {"district": "jarva", "reference": "ref-j", "facts": {"age": 30}, "opened": (today() - dt.timedelta(days=9)).isoformat()}
        jarva = service.client.post("/cases", json=body, headers=service.headers(district="jarva", subject="jon")).json()
        central = (service.settings.processes[0] / "bryt_upp.yaml").read_text(encoding="utf-8")
        step = "  actualisation:\n    label: Aktualisering\n"
        text = central.replace(step, step + "    deadline: {within: 2d, from: case_opened}\n")
        stored = draft(service, text, "central", owner(service, "petra"))
        assert stored["findings"] == [], stored["findings"]
        seen = service.client.get(f"/processes/central/drafts/{stored['id']}", headers=implementer(service)).json()
        cases = {d["district"]: [c["case_id"] for c in d["impact"]["cases"]] for d in seen["districts"]}
        counts = {d["district"]: d["impact"]["counts"]["becomes_overdue"] for d in seen["districts"]}
        assert cases["farsta"] == [farsta["id"]] and cases["jarva"] == [] and counts["jarva"] == 1
        city = service.client.get(f"/processes/central/drafts/{stored['id']}", headers=owner(service)).json()
        assert all(d["impact"]["cases"] == [] for d in city["districts"])
        assert jarva["id"] not in str(seen) and jarva["id"] not in str(city)
        assert (("ida", "draft_impact", "ok") in actions(service)) is True

    def test_two_drafts_of_one_district_approved_at_once_one_is_refused(self, service: Service) -> None:
        first = proposed(service, farsta_text(service).replace(*TIGHTER))
        second = proposed(service, farsta_text(service).replace(*REASSIGNED))
        body = {"effective_from": today().isoformat()}
        answers: dict[str, int] = {}
        start = threading.Barrier(2)

        def approve(stored: dict[str, Any], subject: str) -> None:
            start.wait()
            answers[subject] = act(service, stored, "approve", owner(service, subject), body).status_code

        threads = [threading.Thread(target=approve, args=pair) for pair in ((first, "olle"), (second, "petra"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(answers.values()) == [200, 409], answers
        winner = first if answers["olle"] == 200 else second
        assert service.registry.current("farsta").version == winner["version"]

    def test_a_scheduled_change_is_kept_by_what_is_approved_after_it(self, service: Service) -> None:
        later = today() + dt.timedelta(days=10)
        scheduled = approved(service, farsta_text(service).replace(*TIGHTER), on=later)
        # A new draft starts from the newest version, the scheduled one: its text has the 7 days.
        on_top = farsta_text(service).replace(*TIGHTER).replace(*REASSIGNED)
        stored = proposed(service, on_top)
        assert stored["base_version"] == scheduled["version"]
        early = act(service, stored, "approve", owner(service), {"effective_from": today().isoformat()})
        assert early.status_code == 422 and later.isoformat() in str(early.json()["detail"])
        assert act(service, stored, "approve", owner(service), {"effective_from": later.isoformat()}).status_code == 200
        service.registry.store.today = lambda: later
        service.registry.follow()
        preview = service.client.get(f"/processes/farsta/drafts/{stored['id']}", headers=implementer(service)).json()
        assert service.registry.current("farsta").version == stored["version"] == preview["draft"]["version"]

    def test_an_approval_that_changes_nothing_is_refused_and_a_scheduled_one_can_be_withdrawn(self, service: Service) -> None:
        live = service.registry.current("farsta").version
        same = proposed(service, farsta_text(service) + "\n# bara en kommentar\n")
        nothing = act(service, same, "approve", owner(service), {"effective_from": today().isoformat()})
        assert nothing.status_code == 409 and "changes nothing" in nothing.json()["detail"]
        later = today() + dt.timedelta(days=3)
        scheduled = approved(service, farsta_text(service).replace(*TIGHTER), on=later)
        path = f"/processes/farsta/versions/{scheduled['version']}/withdraw"
        assert service.client.post(path, json={"note": "Ångrat"}, headers=implementer(service)).status_code == 403
        taken = service.client.post(path, json={"note": "Ångrat"}, headers=owner(service, "petra"))
        assert taken.status_code == 200 and taken.json()["status"] == "withdrawn"
        service.registry.store.today = lambda: later
        service.registry.follow()
        assert service.registry.current("farsta").version == live
        history = service.client.get("/processes/farsta/versions", headers=owner(service)).json()
        assert history[0]["status"] == "withdrawn" and history[0]["withdrawal_note"] == "Ångrat"

    @pytest.mark.parametrize("hidden", ['zz: "19121212\\x2d1212"\n', 'zz: "19121212-\\\n  1212"\n'])
    def test_a_personal_number_hidden_by_yaml_escapes_is_refused_unrepeated(self, service: Service, hidden: str) -> None:
        answer = service.client.post(
            "/processes/farsta/drafts", content=(farsta_text(service) + hidden).encode(), headers={**implementer(service), **YAML}
        )
        assert answer.status_code == 422 and "personal identity number" in answer.text
        assert "1212" not in answer.text

    def test_the_trail_names_the_draft_and_a_refusal_the_district(self, service: Service) -> None:
        stored = draft(service, farsta_text(service).replace(*TIGHTER))
        service.client.get(f"/processes/farsta/drafts/{stored['id']}/text", headers=implementer(service, "jarva", "jan"))
        service.client.get(f"/processes/farsta/drafts/{stored['id']}/text", headers=service.headers())
        with Session(service.client.app.state.engine) as session:  # type: ignore[attr-defined]
            rows = session.exec(select(AuditRecord).where(AuditRecord.target == stored["id"])).all()
        seen = {(r.subject, r.action, r.outcome, r.case_district) for r in rows}
        assert ("ida", "draft_created", "ok", "farsta") in seen
        assert ("jan", "draft_read", "denied", "farsta") in seen
        assert ("anna", "draft_text", "forbidden", "farsta") in seen
