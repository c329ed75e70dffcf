"""Production entry points: /ready, /metrics and `brytupp serve --workers N`, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.auth import Role
from tests.service import KEY, ROOT, Service, copy_processes, free_port, settings_for

FACTS = {"age": 34, "entry_channel": "self_referral", "needs": ["financial"], "consent_joint_handling": True}


def metric(body: str, name: str, **labels: str) -> float:
    """The value of one sample (0 when absent), whatever the order of its labels."""
    total = 0.0
    for line in body.splitlines():
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


class TestReady:
    def test_ready_on_a_healthy_service(self, service: Service) -> None:
        response = service.client.get("/ready")
        assert response.status_code == 200, response.text
        assert response.json() == {
            "status": "ready",
            "failed": [],
            "checks": {"database": "ok", "migrations": "ok", "districts": "ok"},
        }
        assert service.client.get("/health").status_code == 200

    def test_no_district_is_not_ready_and_not_audited(self, database_url: str, tmp_path: Path) -> None:
        (tmp_path / "processes").mkdir()
        shutil.copy(ROOT / "processes" / "bryt_upp.yaml", tmp_path / "processes")
        with Service(settings_for(database_url, [tmp_path / "processes"])) as service:
            response = service.client.get("/ready")
            assert response.status_code == 503
            body = response.json()
            assert body["failed"] == ["districts"] and body["checks"]["districts"] == "no district"
            # A probe is no access to a case: no refusal on the audit trail.
            with service.client.app.state.engine.connect() as connection:  # type: ignore[attr-defined]
                assert connection.execute(text("SELECT count(*) FROM audit_records")).scalar() == 0

    def test_schema_behind_is_not_ready_and_ahead_is(self, service: Service) -> None:
        engine = service.client.app.state.engine  # type: ignore[attr-defined]
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        behind = service.client.get("/ready")
        assert behind.status_code == 503 and behind.json()["failed"] == ["migrations"]
        assert behind.json()["checks"]["migrations"].startswith("not at this release's head")
        # A newer release's migrate job ran during a rolling upgrade: the older instances keep serving.
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'f00d_from_a_newer_release'"))
        assert service.client.get("/ready").status_code == 200

    def test_database_gone_is_not_ready(self, postgres: object, tmp_path: Path) -> None:
        from tests.service import fresh_database

        admin = make_url(postgres.url)  # type: ignore[attr-defined]
        url = fresh_database("postgresql", tmp_path, postgres.url)  # type: ignore[attr-defined]
        with Service(settings_for(url, copy_processes(tmp_path))) as service:
            assert service.client.get("/ready").status_code == 200
            conninfo = f"host={admin.host} port={admin.port} user={admin.username} dbname={admin.database}"
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{make_url(url).database}" WITH (FORCE)')
            started = time.monotonic()
            response = service.client.get("/ready")
            assert time.monotonic() - started < 5
            assert response.status_code == 503
            assert "database" in response.json()["failed"]
            assert response.json()["checks"]["database"].startswith("unreachable")
            assert service.client.get("/health").status_code == 200


class TestMetrics:
    def test_requests_decisions_and_audit_queue_without_personal_data(self, service: Service) -> None:
        before = service.client.get("/metrics").text
        payload = {"district": "farsta", "reference": "klient-metrics-zq", "facts": FACTS, "opened": "2025-02-03"}
        case = service.client.post("/cases", json=payload, headers=service.headers()).json()
        steps = service.client.get(
            f"/cases/{case['id']}/next-steps", params={"today": "2025-02-05", "note": "Anna Andersson"}, headers=service.headers()
        )
        assert steps.status_code == 200, steps.text
        what_if = {"district": "farsta", "facts": FACTS, "opened": "2025-02-03", "today": "2025-02-03"}
        assert service.client.post("/decide", json=what_if, headers=service.headers()).status_code == 200
        service.client.get("/cases/deadbeef-0000-4000-8000-00000000beef", headers=service.headers())
        service.client.get("/no/such/path/klient-metrics-zq")

        response = service.client.get("/metrics")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        after = response.text
        for name, labels in [
            ("brytupp_requests_total", {"route": "/cases/{case_id}/next-steps", "method": "GET", "status": "200"}),
            ("brytupp_requests_total", {"route": "/cases", "method": "POST", "status": "201"}),
            ("brytupp_requests_total", {"route": "/cases/{case_id}", "method": "GET", "status": "404"}),
            ("brytupp_requests_total", {"route": "unmatched", "method": "GET", "status": "404"}),
            ("brytupp_request_duration_seconds_count", {"route": "/cases/{case_id}/next-steps", "status": "200"}),
            ("brytupp_decisions_total", {"kind": "next_steps"}),
            ("brytupp_decisions_total", {"kind": "what_if"}),
        ]:
            assert metric(after, name, **labels) == metric(before, name, **labels) + 1, (name, labels)
        assert re.search(r"^brytupp_audit_queue_depth \d", after, re.MULTILINE)
        assert "# TYPE brytupp_process_version_switches_total counter" in after
        for personal in (case["id"], "klient-metrics-zq", "deadbeef", "Anna", "2025-02-05"):
            assert personal not in after

    def test_probes_are_counted_not_logged(self, service: Service, caplog: pytest.LogCaptureFixture) -> None:
        before = metric(service.client.get("/metrics").text, "brytupp_requests_total", route="/ready")
        with caplog.at_level("INFO", logger="brytupp.access"):
            service.client.get("/ready")
            service.client.get("/health")
            service.client.get("/processes", headers=service.headers(Role.implementer))
        paths = [getattr(r, "path", None) for r in caplog.records if r.name == "brytupp.access"]
        assert paths == ["/processes"]
        assert metric(service.client.get("/metrics").text, "brytupp_requests_total", route="/ready") == before + 1

    def test_metrics_can_be_turned_off(self, database_url: str, tmp_path: Path) -> None:
        with Service(settings_for(database_url, copy_processes(tmp_path), metrics=False)) as service:
            assert service.client.get("/metrics").status_code == 404


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``brytupp serve --workers 2`` on an empty database, as an operator starts it."""
    port = free_port()
    log = tmp_path / "serve.log"
    processes = copy_processes(tmp_path)
    env = {
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        "BRYTUPP_DATABASE_URL": database_url,
        "BRYTUPP_JWT_KEY": KEY,
        "BRYTUPP_PROCESSES": "[" + ",".join(f'"{p}"' for p in processes) + "]",
        "BRYTUPP_RELOAD_INTERVAL": "0",
    }
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port), "--workers", "2"]
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield url, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_serve_with_two_workers(workers: tuple[str, Path]) -> None:
    url, log = workers
    assert httpx.get(url + "/ready", timeout=5).json()["status"] == "ready"

    def pids() -> dict[str, float]:
        body = httpx.get(url + "/metrics", timeout=5).text
        found = re.findall(r'^brytupp_worker_requests\{pid="(\d+)"\} (\S+)$', body, re.MULTILINE)
        return {pid: float(value) for pid, value in found if float(value) > 0}

    # New connections, several at once: the kernel hands each to whichever worker accepts first.
    deadline = time.monotonic() + 30
    with ThreadPoolExecutor(8) as pool:
        while True:
            answers = list(pool.map(lambda _: httpx.get(url + "/ready", timeout=5).status_code, range(40)))
            assert set(answers) == {200}
            if len(pids()) == 2 or time.monotonic() > deadline:
                break
    assert len(pids()) == 2, pids()
    # /metrics sums the workers, whichever of them answers the scrape.
    body = httpx.get(url + "/metrics", timeout=5).text
    assert metric(body, "brytupp_requests_total", route="/ready", status="200") >= 40
    text_log = log.read_text()
    # The parent ran `brytupp migrate`'s step once; the workers started with migrating off.
    assert text_log.count("schema migrated to head") == 1 and "schema already at head" not in text_log
    assert len(re.findall(r"Started server process", text_log)) == 2


def test_serve_hands_uvicorn_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `brytupp serve` gives uvicorn, without starting it: one app, or N workers of the factory."""
    import uvicorn
    from typer.testing import CliRunner

    from api.cli import app as cli

    calls: list[tuple[object, dict[str, object]]] = []

    def run(target: object, **options: object) -> None:
        seen = {name: os.environ.get(name) for name in ("BRYTUPP_MIGRATE_ON_START", "PROMETHEUS_MULTIPROC_DIR")}
        folder = seen["PROMETHEUS_MULTIPROC_DIR"]
        calls.append((target, {**options, **seen, "folder_exists": folder is not None and Path(folder).is_dir()}))

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setenv("BRYTUPP_DATABASE_URL", f"sqlite:///{tmp_path}/serve.sqlite")
    monkeypatch.setenv("BRYTUPP_JWT_KEY", KEY)
    monkeypatch.setenv("BRYTUPP_SHUTDOWN_SECONDS", "17")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    environment = dict(os.environ)

    assert CliRunner().invoke(cli, ["serve"]).exit_code == 0
    assert CliRunner().invoke(cli, ["serve", "--workers", "3", "--port", "8123"]).exit_code == 0
    (single, one), (factory, many) = calls
    assert not isinstance(single, str) and one["timeout_graceful_shutdown"] == 17 and "workers" not in one
    assert one["PROMETHEUS_MULTIPROC_DIR"] is None
    assert factory == "api.app:from_environment" and many["factory"] is True and many["workers"] == 3
    assert many["timeout_graceful_shutdown"] == 17 and many["port"] == 8123
    assert many["log_config"] == one["log_config"] and many["access_log"] is False and many["ws"] == "none"
    assert many["BRYTUPP_MIGRATE_ON_START"] == "false" and many["folder_exists"]
    # The parent migrated before the workers: the schema is at head.
    from api.db import make_engine, schema_at_head

    engine = make_engine(f"sqlite:///{tmp_path}/serve.sqlite")
    try:
        assert schema_at_head(engine)
    finally:
        engine.dispose()
    assert dict(os.environ) == environment
    assert not Path(str(many["PROMETHEUS_MULTIPROC_DIR"])).exists()


def test_every_app_sets_the_switch_interval(tmp_path: Path) -> None:
    before = sys.getswitchinterval()
    try:
        Service(settings_for(f"sqlite:///{tmp_path}/db.sqlite", copy_processes(tmp_path), switch_interval=0.002))
        assert sys.getswitchinterval() == pytest.approx(0.002)
    finally:
        sys.setswitchinterval(before)
