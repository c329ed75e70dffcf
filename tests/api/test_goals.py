"""The five effect goals (api/goals/) on hand-built cases whose answers are known,
on SQLite and PostgreSQL; every case and event is recorded through the API."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any, Literal

from typer.testing import CliRunner

from api.auth import Role
from api.cli import app as cli
from api.goals import GoalSettings, goals_report, report_for
from tests.service import Service

ADULT = {"age": 34, "entry_channel": "self_referral"}


def open_case(service: Service, reference: str, opened: str, district: str = "farsta", **facts: Any) -> str:
    body = {"district": district, "reference": reference, "facts": {**ADULT, **facts}, "opened": opened}
    response = service.client.post("/cases", json=body, headers=service.headers(district=district))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def record(service: Service, case_id: str, kind: str, on: str, district: str = "farsta", **body: Any) -> None:
    response = service.client.post(
        f"/cases/{case_id}/events", json={"kind": kind, "on": on, **body}, headers=service.headers(district=district)
    )
    assert response.status_code == 201, response.text


def report(service: Service, **params: Any) -> dict[str, Any]:
    response = service.client.get("/reports/goals", params=params, headers=service.headers(Role.manager))
    assert response.status_code == 200, response.text
    return dict(response.json())


def cell(
    data: dict[str, Any], goal: int, year: int, district: str | None = "farsta"
) -> tuple[int, int, float | None, bool | None]:
    [row] = [r for r in data["indicators"] if (r["goal"], r["year"], r["district"]) == (goal, year, district)]
    return row["numerator"], row["denominator"], row["value"], row["met"]


def client_units(service: Service, district: str = "farsta") -> list[str]:
    units = service.registry.current(district).process.units
    return [unit_id for unit_id, unit in units.items() if unit.kind == "district"]


class TestRoutineQuestions:
    """Goal 1: units with an adopted routine / the district's own units."""

    def put(self, service: Service, unit: str, adopted: str, role: Role = Role.manager, district: str = "farsta") -> Any:
        return service.client.put(
            f"/units/{unit}/routine", json={"district": district, "adopted": adopted}, headers=service.headers(role)
        )

    def test_a_unit_counts_from_the_year_it_adopted_the_routine(self, service: Service) -> None:
        units = client_units(service)
        assert self.put(service, units[0], "2024-06-01").status_code == 201
        assert self.put(service, units[1], "2025-12-31", Role.implementer).status_code == 201
        assert self.put(service, "larteamet", "2023-01-01").status_code == 201  # a city unit: not counted
        data = report(service, years="2023-2025")
        assert cell(data, 1, 2023) == (0, len(units), 0.0, False)
        assert cell(data, 1, 2024) == (1, len(units), round(1 / len(units), 4), False)
        assert cell(data, 1, 2025)[:2] == (2, len(units))
        jarva = len(client_units(service, "jarva"))
        assert cell(data, 1, 2025, "jarva") == (0, jarva, 0.0, False)
        city = sum(len(client_units(service, d)) for d in service.registry.snapshot.districts)
        assert cell(data, 1, 2025, None)[:2] == (2, city)

        # A correction moves the day; a routine taken back no longer counts.
        corrected = self.put(service, units[1], "2024-02-01")
        assert corrected.status_code == 200 and corrected.json()["adopted"] == "2024-02-01"
        assert cell(report(service, year=2024), 1, 2024)[0] == 2
        removed = service.client.delete(
            f"/units/{units[0]}/routine", params={"district": "farsta"}, headers=service.headers(Role.manager)
        )
        assert removed.status_code == 204
        assert cell(report(service, year=2024), 1, 2024)[0] == 1

        listed = service.client.get(
            "/units/routines", params={"district": "farsta"}, headers=service.headers(Role.manager)
        ).json()
        by_unit = {row["unit"]: row for row in listed}
        assert by_unit[units[1]]["adopted"] == "2024-02-01" and by_unit[units[1]]["counted"] is True
        assert by_unit["larteamet"]["counted"] is False and by_unit[units[0]]["adopted"] is None

    def test_routines_are_for_declared_units_managers_and_implementers_and_not_the_future(self, service: Service) -> None:
        assert self.put(service, "nowhere", "2024-01-01").status_code == 404
        assert self.put(service, "mottagningsenheten", "2024-01-01", district="gotham").status_code == 422
        assert self.put(service, "mottagningsenheten", "2999-01-01").status_code == 422
        assert self.put(service, "mottagningsenheten", "2024-01-01", Role.caseworker).status_code == 403


class TestStableHousing:
    """Goal 2: completed placements followed by a contract of ≥ 6 months (not SHIS Mellanbo)."""

    def test_placements_by_the_year_they_ended_and_what_followed(self, service: Service) -> None:
        def placement(ref: str, start: str, end: str, completed: bool = True, *housing: tuple[str, str, int]) -> None:
            cid = open_case(service, ref, start)
            record(service, cid, "placement_started", start)
            record(service, cid, "placement_ended", end, completed=completed)
            for on, kind, months in housing:
                record(service, cid, "housing_outcome", on, type=kind, contract_months=months)

        placement("p-a", "2024-10-01", "2024-12-20", True, ("2025-01-15", "lodger", 12))  # followed in the next year
        placement("p-b", "2024-11-01", "2025-01-02", True, ("2025-01-10", "shis_mellanbo", 12))  # ends in 2025; Mellanbo
        placement("p-c", "2024-03-01", "2024-06-01", False, ("2024-06-02", "lodger", 12))  # broken off: not counted
        placement("p-d", "2024-02-01", "2024-05-01", True, ("2024-05-02", "second_hand_lease", 5))  # too short
        placement("p-e", "2024-01-01", "2024-03-01", True, ("2024-02-01", "lodger", 12))  # before the end
        placement("p-f", "2024-01-01", "2024-04-01", True, ("2024-04-01", "shis_bostader", 6))  # same day, 6 months
        data = report(service, years="2024-2025")
        assert cell(data, 2, 2024) == (2, 4, 0.5, False)
        assert cell(data, 2, 2025) == (0, 1, 0.0, False)
        assert cell(data, 2, 2025, "jarva") == (0, 0, None, None)
        assert cell(data, 2, 2024, None) == (2, 4, 0.5, False)

        settings = GoalSettings(count_broken_off_placements=True, housing_within_months=0)
        with service.client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
            out = goals_report(conn, [2024], "farsta", settings, {})
        [row] = [r for r in out.indicators if r.goal == 2]
        assert (row.numerator, row.denominator) == (1, 5)  # p-c counted; only p-f's contract starts the day it ends


class TestReactualised:
    """Goal 3: clients back within 12 months of a closure / clients whose case closed."""

    def test_day_365_is_inside_the_window_and_day_366_outside(self, service: Service) -> None:
        def closed(ref: str, opened: str, on: str, district: str = "farsta") -> None:
            cid = open_case(service, ref, opened, district)
            record(service, cid, "case_closed", on, district, reason="needs_met")

        closed("r-1", "2025-01-10", "2025-03-01")
        open_case(service, "r-1", "2026-03-01")  # day 365: re-actualised
        closed("r-2", "2025-01-10", "2025-03-01")
        open_case(service, "r-2", "2026-03-02")  # day 366: outside
        closed("r-3", "2025-02-01", "2025-05-10")  # never back
        closed("r-4", "2024-10-01", "2024-12-31")
        closed("r-4", "2025-01-05", "2025-01-20")  # back in 5 days (2024), closed again in 2025 …
        open_case(service, "r-4", "2025-02-01")  # … and back again: one client, counted once
        closed("r-5", "2025-01-01", "2025-06-01")
        open_case(service, "r-5", "2025-07-01", "jarva")  # another district's reference: not this client
        data = report(service, years="2024-2025")
        assert cell(data, 3, 2025) == (2, 5, 0.4, False)  # r-1, r-4 of r-1…r-5
        assert cell(data, 3, 2024) == (1, 1, 1.0, False)
        assert cell(data, 3, 2025, "jarva") == (0, 0, None, None)

    def test_a_month_window_ends_at_the_end_of_a_shorter_month(self, service: Service) -> None:
        for ref, back in (("m-1", "2025-02-28"), ("m-2", "2025-03-01")):
            cid = open_case(service, ref, "2025-01-02")
            record(service, cid, "case_closed", "2025-01-31", reason="declined")
            open_case(service, ref, back)
        with service.client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
            out = goals_report(conn, [2025], "farsta", GoalSettings(reactualisation_months=1), {})
        [row] = [r for r in out.indicators if r.goal == 3]
        assert (row.numerator, row.denominator, row.value, row.met) == (1, 2, 0.5, False)


class TestReferrals:
    """Goal 4: SHIS Mellanbo referrals in the year / in the baseline year (2024)."""

    def test_ratio_to_the_baseline_and_none_without_baseline_referrals(self, service: Service) -> None:
        plan = {("farsta", "2025-03-01"): 2, ("jarva", "2024-05-01"): 4, ("jarva", "2025-05-01"): 5, ("jarva", "2023-12-31"): 1}
        n = 0
        for (district, on), count in plan.items():
            for _ in range(count):
                n += 1
                cid = open_case(service, f"ref-{n}", on, district)
                record(service, cid, "referral_sent", on, district, to="shis_mellanbo")
        data = report(service, years="2024-2025")
        assert cell(data, 4, 2025) == (2, 0, None, None)
        assert cell(data, 4, 2025, "jarva") == (5, 4, 1.25, True)
        assert cell(data, 4, 2024, "jarva") == (4, 4, 1.0, False)
        assert cell(data, 4, 2025, None) == (7, 4, 1.75, True)
        assert cell(data, 4, 2025, "bromma") == (0, 0, None, None)
        farsta = report(service, year=2025, district="farsta")
        assert {r["district"] for r in farsta["indicators"]} == {"farsta"}
        assert cell(farsta, 4, 2025) == (2, 0, None, None)


class TestSchooling:
    """Goal 5: school-age children placed whose schooling started within 7 calendar days."""

    def test_day_7_counts_day_8_does_not(self, service: Service) -> None:
        children = [
            {"age": 9, "accompanying": True, "in_school": True},  # schooling on day 7
            {"age": 7, "accompanying": True, "in_school": False},  # school age by age; schooling on day 8
            {"age": 3, "accompanying": True},  # not school age
            {"age": 12, "accompanying": False, "in_school": True},  # stays behind
            {"age": 16, "accompanying": True, "in_school": True},  # in school at 16: counts, never schooled
        ]
        cid = open_case(service, "s-1", "2025-03-01", children=children)
        record(service, cid, "placement_started", "2025-03-03")
        record(service, cid, "schooling_started", "2025-03-10", child=0)
        record(service, cid, "schooling_started", "2025-03-11", child=1)
        other = open_case(service, "s-2", "2024-12-20", children=[{"age": 10, "accompanying": True}])
        record(service, other, "placement_started", "2024-12-30")
        record(service, other, "schooling_started", "2025-01-03", child=0)
        open_case(service, "s-3", "2025-01-01", children=[{"age": 10, "accompanying": True}])  # never placed
        data = report(service, years="2024-2025")
        assert cell(data, 5, 2025) == (1, 3, 0.3333, False)
        assert cell(data, 5, 2024) == (1, 1, 1.0, True)
        assert cell(data, 5, 2025, None) == (1, 3, 0.3333, False)


class TestWhereItShows:
    def test_csv_years_and_refusals(self, service: Service) -> None:
        cid = open_case(service, "w-1", "2025-02-01")
        record(service, cid, "referral_sent", "2025-02-02", to="shis_mellanbo")
        manager = service.headers(Role.manager)
        response = service.client.get("/reports/goals", params={"years": "2024-2025", "format": "csv"}, headers=manager)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        districts = len(service.registry.snapshot.districts)
        assert len(rows) == 5 * 2 * (districts + 1)
        [farsta] = [r for r in rows if (r["goal"], r["year"], r["district"]) == ("4", "2025", "farsta")]
        assert (farsta["numerator"], farsta["denominator"], farsta["value"], farsta["met"]) == ("1", "0", "", "")
        for params in ({"year": 2025, "years": "2024-2025"}, {"years": "2025-2024"}, {"district": "gotham"}, {"year": 1066}):
            assert service.client.get("/reports/goals", params=params, headers=manager).status_code == 422, params
        assert service.client.get("/reports/goals", headers=service.headers()).status_code == 403
        assert service.client.get("/reports/goals", headers=manager).json()["years"]  # this year by default

    def test_the_command_prints_the_table(self, service: Service) -> None:
        cid = open_case(service, "w-2", "2025-02-01")
        record(service, cid, "referral_sent", "2025-02-02", to="shis_mellanbo")
        url = service.settings.database_url
        result = CliRunner().invoke(cli, ["goals", "--year", "2025", "--district", "farsta", "--database-url", url])
        assert result.exit_code == 0, result.output
        assert "Remisser till SHIS Mellanbo" in result.output and "Farsta" in result.output
        as_json = CliRunner().invoke(cli, ["goals", "--years", "2024-2025", "--format", "json", "--database-url", url])
        assert as_json.exit_code == 0, as_json.output
        assert '"numerator": 1' in as_json.output


def test_shis_mellanbo_is_the_only_referral_the_service_records() -> None:
    """Goal 4 counts every referral_sent event without reading its payload (api/goals/queries.py)."""
    from api.events import REFERRAL_STEPS, ReferralSent

    assert set(REFERRAL_STEPS) == {"shis_mellanbo"}
    assert ReferralSent.model_fields["to"].annotation == Literal["shis_mellanbo"]


def test_demo_data_is_reproducible_and_loaded_once(database_url: str, tmp_path: Path) -> None:
    from api.demo_data import load_demo_data
    from tests.service import copy_processes, settings_for

    settings = settings_for(database_url, copy_processes(tmp_path))
    loaded = load_demo_data(settings, 40, [2024, 2025], seed=3, today=dt.date(2026, 6, 1))
    assert loaded.cases == 40 and loaded.events > 40 and loaded.routines > 0 and not loaded.skipped
    assert load_demo_data(settings, 40, [2024, 2025], seed=3).skipped
    again = settings_for(f"sqlite:///{tmp_path}/again.sqlite", settings.processes)
    assert load_demo_data(again, 40, [2024, 2025], seed=3, today=dt.date(2026, 6, 1)).events == loaded.events

    def figures(url: str) -> list[tuple[int, int, str | None, int, int]]:
        out = report_for(url, settings.processes, [2024, 2025], None, GoalSettings())
        return [(r.goal, r.year, r.district, r.numerator, r.denominator) for r in out.indicators]

    assert figures(database_url) == figures(again.database_url)
    assert any(n for _, _, d, n, _ in figures(database_url) if d is None)
