"""Process versions in the database: every instance serves what the database says is current,
switches within moments of a publication, and never loses a district to a broken file.
SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from tests.service import KEY, Service, copy_processes, settings_for

TIGHTER = ("within: 10d", "within: 9d")


def farsta_file(processes: list[Path]) -> Path:
    return processes[1] / "farsta.yaml"


def create(service: Service, reference: str) -> dict[str, Any]:
    body = {"district": "farsta", "reference": reference, "facts": {"age": 34}, "opened": "2025-02-03"}
    response = service.client.post("/cases", json=body, headers=service.headers())
    assert response.status_code == 201, response.text
    return dict(response.json())


def instance(database_url: str, root: Path, name: str, **settings: Any) -> Service:
    """An instance with its own copy of the process files, as on a machine of its own."""
    where = root / name
    where.mkdir()
    return Service(settings_for(database_url, copy_processes(where), **{"follow_interval": 0.1, **settings}))


class TestEveryInstanceFollowsTheDatabase:
    def test_a_publication_through_one_instance_is_served_by_the_others_within_two_seconds(
        self, database_url: str, tmp_path: Path
    ) -> None:
        with (
            instance(database_url, tmp_path, "a") as a,
            instance(database_url, tmp_path, "b", watch_files=False) as b,
            instance(database_url, tmp_path, "c", watch_files=False) as c,
        ):
            old = a.registry.current("farsta").version
            assert b.registry.current("farsta").version == old == c.registry.current("farsta").version
            path = farsta_file(a.settings.processes)
            path.write_text(path.read_text().replace(*TIGHTER))
            published = time.monotonic()
            assert a.registry.reload()
            new = a.registry.current("farsta").version
            assert new != old
            versions, waited, n = set(), {}, 0
            while len(waited) < 2 and time.monotonic() - published < 10:
                n += 1
                for name, other in (("b", b), ("c", c)):
                    case = create(other, f"k-{name}-{n:04d}")
                    versions.add(case["process_version"])
                    if other.registry.current("farsta").version == new:
                        waited.setdefault(name, time.monotonic() - published)
                time.sleep(0.05)
            print(f"\n{database_url.split(':')[0]}: switched after " + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(waited.items())))
            assert set(waited) == {"b", "c"} and max(waited.values()) <= 2.0
            # Meanwhile every new case went on one of the two versions, never an unknown one.
            assert versions <= {old, new}

    def test_new_and_migrated_cases_take_the_databases_current_version_not_this_instances_files(
        self, database_url: str, tmp_path: Path
    ) -> None:
        with instance(database_url, tmp_path, "a") as a:
            case = create(a, "k-0001")
            path = farsta_file(a.settings.processes)
            path.write_text(path.read_text().replace(*TIGHTER))
            a.registry.reload()
            new = a.registry.current("farsta").version
        # An instance shipped with the older files, in production mode: it publishes nothing.
        with instance(database_url, tmp_path, "b", watch_files=False, follow_interval=0) as b:
            assert b.registry.current("farsta").version == new
            moved = b.client.post(f"/cases/{case['id']}/migrate", headers=b.headers())
            assert moved.status_code == 200 and moved.json()["process_version"] == new
            assert create(b, "k-0002")["process_version"] == new


class TestARestartNeverLosesADistrict:
    def test_a_broken_file_at_start_keeps_the_district_on_its_current_version(self, database_url: str, tmp_path: Path) -> None:
        processes = copy_processes(tmp_path)
        settings = settings_for(database_url, processes)
        with Service(settings) as first:
            version = first.registry.current("farsta").version
        path = farsta_file(processes)
        path.write_text(path.read_text().replace("units:", "units: [\n", 1))
        with Service(settings) as second:
            assert second.registry.current("farsta").version == version
            assert create(second, "k-0001")["process_version"] == version
            listed = second.client.get("/processes", headers=second.headers()).json()
            farsta = next(d for d in listed["districts"] if d["district"] == "farsta")
            assert farsta["status"] == "errors" and farsta["version"] == version and farsta["findings"]
            # The load balancer keeps sending traffic: the instance is ready.
            assert second.client.get("/ready").status_code == 200


class TestPublishCommand:
    def test_publish_stores_the_files_as_current_and_refuses_files_with_problems(
        self, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        processes = copy_processes(tmp_path)
        monkeypatch.setenv("BRYTUPP_DATABASE_URL", database_url)
        monkeypatch.setenv("BRYTUPP_JWT_KEY", KEY)
        # A production instance on an empty database: the schema, but no process until one is published.
        with Service(settings_for(database_url, processes, watch_files=False)) as empty:
            assert empty.registry.snapshot.districts == {}
        args = ["publish", "--by", "release-2026-12", str(processes[0]), str(processes[1])]
        first = CliRunner().invoke(cli, args)
        assert first.exit_code == 0, first.output
        assert "farsta" in first.output
        again = CliRunner().invoke(cli, args)
        assert again.exit_code == 0 and "nothing new" in again.output
        path = farsta_file(processes)
        good = path.read_text()
        path.write_text(good.replace("units:", "units: [\n", 1))
        broken = CliRunner().invoke(cli, args)
        assert broken.exit_code == 1 and "nothing published" in broken.output
        with Service(settings_for(database_url, processes, watch_files=False)) as served:
            assert len(served.registry.snapshot.districts) == 11
            assert not served.registry.snapshot.districts["farsta"].findings
