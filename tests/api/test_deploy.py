"""Deploying several instances on one database: migrations under a lock (three instances
started at once on an empty database all serve), ``brytupp migrate`` as the deploy job's
step with instances that leave migrating to it, and the service behind PgBouncer in
transaction mode."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from api.cli import app as cli
from api.db import make_engine, schema_at_head
from tests.live import FACTS, OPENED
from tests.pgbouncer import SERVER_POOL, PgBouncer
from tests.service import ServerProcess, Service, copy_processes, fresh_database, settings_for

INSTANCES = 3
ROUNDS = 3


def at_head(database_url: str) -> bool:
    engine = make_engine(database_url)
    try:
        return schema_at_head(engine)
    finally:
        engine.dispose()


def run_migrate(database_url: str) -> str:
    result = CliRunner().invoke(cli, ["migrate", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    return result.output


def case_body(reference: str) -> dict[str, Any]:
    return {"district": "farsta", "reference": reference, "facts": FACTS, "opened": OPENED.isoformat()}


def conninfo(database_url: str) -> str:
    url = make_url(database_url)
    return f"host={url.host} port={url.port} user={url.username} dbname={url.database}"


def test_three_instances_started_at_once_on_an_empty_database_all_serve(postgres: Any, tmp_path: Path) -> None:
    processes = copy_processes(tmp_path)
    timings = []
    for round_ in range(ROUNDS):
        database_url = fresh_database("postgresql", tmp_path, postgres.url)
        servers = [ServerProcess(settings_for(database_url, processes), tmp_path) for _ in range(INSTANCES)]
        began = time.monotonic()
        try:
            # start() launches and then waits for /health: in threads, the three launch within moments.
            with ThreadPoolExecutor(INSTANCES) as pool:
                list(pool.map(ServerProcess.start, servers))
            timings.append(time.monotonic() - began)
            for n, server in enumerate(servers):
                with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as http:
                    response = http.post("/cases", json=case_body(f"deploy-{round_}-{n}"))
                    assert response.status_code == 201, response.text
        finally:
            with ThreadPoolExecutor(INSTANCES) as pool:
                list(pool.map(ServerProcess.stop, servers))
        assert at_head(database_url)
    print(f"\n{INSTANCES} instances on an empty database, serving after: " + ", ".join(f"{t:.1f} s" for t in timings))


def test_migrate_command_then_an_instance_that_does_not_migrate_serves(database_url: str, tmp_path: Path) -> None:
    assert not at_head(database_url)
    assert "migrated" in run_migrate(database_url)
    assert at_head(database_url)
    assert "already at head" in run_migrate(database_url)
    with Service(settings_for(database_url, copy_processes(tmp_path), migrate_on_start=False)) as service:
        response = service.client.post("/cases", json=case_body("after-the-job"), headers=service.headers())
        assert response.status_code == 201, response.text


def test_an_instance_left_to_the_job_waits_not_ready_until_it_has_run(database_url: str, tmp_path: Path) -> None:
    with Service(settings_for(database_url, copy_processes(tmp_path), migrate_on_start=False)) as service:
        assert not at_head(database_url)
        assert service.client.get("/health").status_code == 200
        waiting = service.client.post("/cases", json=case_body("too-early"), headers=service.headers())
        assert waiting.status_code == 503, waiting.text
        assert waiting.headers["Retry-After"]

        run_migrate(database_url)
        began = time.monotonic()
        deadline = began + 10
        while True:
            response = service.client.post("/cases", json=case_body("after-the-job"), headers=service.headers())
            if response.status_code == 201 or time.monotonic() > deadline:
                break
            assert response.status_code == 503, response.text
            time.sleep(0.1)
        assert response.status_code == 201, response.text
    print(f"\n{database_url.split(':')[0]}: serving {time.monotonic() - began:.1f} s after the migrate job")


def test_an_instance_waiting_for_the_job_stops_cleanly(database_url: str, tmp_path: Path) -> None:
    began = time.monotonic()
    with Service(settings_for(database_url, copy_processes(tmp_path), migrate_on_start=False)) as service:
        assert service.client.get("/health").status_code == 200
    assert time.monotonic() - began < 5
    assert not at_head(database_url)


def test_the_service_behind_pgbouncer_in_transaction_mode(postgres: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    direct = fresh_database("postgresql", tmp_path, postgres.url)
    database = make_url(direct).database
    with psycopg.connect(conninfo(direct), autocommit=True) as conn:
        # What the README asks of a database behind a transaction pooler, which drops the `options` parameter.
        conn.execute(f"ALTER DATABASE \"{database}\" SET timezone = 'UTC'")
    with PgBouncer(postgres.port) as bouncer:
        monkeypatch.setenv("BRYTUPP_TRANSACTION_POOLING", "true")
        # Migrations (the advisory lock) go to the server itself, the requests through the bouncer.
        monkeypatch.setenv("BRYTUPP_MIGRATE_DATABASE_URL", direct)
        server = ServerProcess(settings_for(bouncer.url_for(direct), copy_processes(tmp_path)), tmp_path)
        try:
            server.start()
            with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as http:
                created = http.post("/cases", json=case_body("behind-pgbouncer"))
                assert created.status_code == 201, created.text
                case_id = created.json()["id"]

                def one_round(n: int) -> list[int]:
                    # More than psycopg's prepare_threshold (5) of each: a prepared statement would be missing by now.
                    event = {"kind": "step_completed", "step": "actualisation", "on": "2025-01-02"}
                    return [
                        http.get(f"/cases/{case_id}").status_code,
                        http.get(f"/cases/{case_id}/next-steps").status_code,
                        http.get(f"/cases/{case_id}/events").status_code,
                        http.post(f"/cases/{case_id}/events", json=event, headers={"Idempotency-Key": f"k{n}"}).status_code,
                    ]

                with ThreadPoolExecutor(8) as pool:
                    answers = list(pool.map(one_round, range(24)))
                assert all(codes[:3] == [200, 200, 200] and codes[3] in (200, 201) for codes in answers), answers
                events = http.get(f"/cases/{case_id}/events").json()
                assert len([e for e in events if e["kind"] == "step_completed"]) == 24
            with psycopg.connect(conninfo(direct), autocommit=True) as conn:
                row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)).fetchone()
            # The instance's connections all ended on PgBouncer's few (and this one).
            assert row is not None and row[0] <= SERVER_POOL + 1, row
        finally:
            server.stop()
        assert "prepared statement" not in server.log.read_text()
