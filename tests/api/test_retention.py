"""Retention (api/retention.py, ``brytupp purge``) on SQLite and PostgreSQL: closed cases past
the period leave nothing behind but the audit trail, in any table or, on SQLite, in the file."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, inspect, text, update
from sqlalchemy.engine import Engine, make_url
from typer.testing import CliRunner

from api.cli import app as cli
from api.models import CaseEvent
from tests.api.test_goals import open_case, record
from tests.service import Service

LONG_AGO = dt.datetime(2016, 6, 1, 9, 30, tzinfo=dt.UTC)
CHILD = [{"age": 9, "accompanying": True, "in_school": True}]


def engine_of(service: Service) -> Engine:
    engine: Engine = service.client.app.state.engine  # type: ignore[attr-defined]
    return engine


def noted_long_ago(service: Service, case_id: str) -> None:
    """The API notes everything today; a case from 2016 also had its notes made then."""
    with engine_of(service).begin() as conn:
        conn.execute(update(CaseEvent).where(CaseEvent.case_id == uuid.UUID(case_id)).values(recorded_at=LONG_AGO))


def update_facts(service: Service, case_id: str, version: int, on: str, **facts: Any) -> None:
    response = service.client.put(
        f"/cases/{case_id}/facts",
        json={"facts": {"age": 34, "entry_channel": "self_referral", **facts}, "on": on},
        headers=service.headers() | {"If-Match": f'"{version}"'},
    )
    assert response.status_code == 200, response.text


def tables(service: Service) -> dict[str, str]:
    """Every table's rows as text, in a stable order."""
    engine = engine_of(service)
    out: dict[str, str] = {}
    with engine.connect() as conn:
        for name in inspect(conn).get_table_names():
            if engine.dialect.name == "postgresql":
                rows = conn.execute(text(f'SELECT t::text FROM "{name}" t ORDER BY 1')).scalars()
            else:
                rows = (repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{name}" ORDER BY 1')))
            out[name] = "\n".join(sorted(rows))
    return out


def sqlite_path(service: Service) -> Path | None:
    url = make_url(service.settings.database_url)
    return Path(str(url.database)) if url.get_backend_name() == "sqlite" else None


def sqlite_dump(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def file_bytes(path: Path) -> bytes:
    """The database file and its WAL, as a disk holds them."""
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def writes_without_secure_delete(service: Service) -> None:
    """SQLite as many builds ship it (Debian's turns secure_delete on by default): rows the service
    rewrites or deletes leave their old bytes in free space, which the purge must not leave behind."""
    engine = engine_of(service)

    @event.listens_for(engine, "connect")
    def _off(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA secure_delete=OFF")

    engine.dispose()


def purge(service: Service, *args: str) -> str:
    url = service.settings.database_url
    result = CliRunner().invoke(cli, ["purge", *args, "--database-url", url])
    assert result.exit_code == 0, result.output
    return result.output


def test_closed_cases_past_the_period_leave_only_audit_rows(service: Service) -> None:
    def closed(reference: str, opened: str, on: str, long_ago: bool = True) -> str:
        cid = open_case(service, reference, opened, children=CHILD)
        update_facts(service, cid, 1, opened, children=[*CHILD, {"age": 4, "accompanying": True}])
        record(service, cid, "placement_started", opened)
        record(service, cid, "schooling_started", opened, child=0)
        record(service, cid, "case_closed", on, reason="needs_met")
        if long_ago:
            noted_long_ago(service, cid)
        return cid

    path = sqlite_path(service)
    if path is not None:
        writes_without_secure_delete(service)
    gone = {
        "gallra-gammal-1": closed("gallra-gammal-1", "2015-03-01", "2016-05-01"),
        "gallra-gammal-2": closed("gallra-gammal-2", "2017-02-01", "2020-12-31"),
    }
    kept = {
        "kvar-oppen-1": open_case(service, "kvar-oppen-1", "2015-01-10"),  # old but open: never purged
        "kvar-nylig-1": closed("kvar-nylig-1", "2024-01-05", "2025-06-01", long_ago=False),
        "kvar-sen-1": closed("kvar-sen-1", "2015-03-01", "2016-05-01", long_ago=False),  # a note made late
        "kvar-grans-1": closed("kvar-grans-1", "2020-06-01", "2021-01-01"),  # closed on the day: kept
    }
    noted_long_ago(service, kept["kvar-oppen-1"])
    audit_before = tables(service)["audit_records"]
    if path is not None:
        assert b"gallra-gammal-1" in file_bytes(path)  # so that its absence below means something

    # A dry run counts and changes nothing.
    before = tables(service)
    assert "would purge 2 closed cases" in purge(service, "--closed-before", "2021-01-01", "--by", "drift-01", "--dry-run")
    assert tables(service) == before

    assert "purged 2 closed cases" in purge(service, "--closed-before", "2021-01-01", "--by", "drift-01")
    after = tables(service)
    for reference, cid in gone.items():
        forms = [cid, uuid.UUID(cid).hex]
        for name, rows in after.items():
            assert reference not in rows, name
            if name != "audit_records":
                assert not any(form in rows for form in forms), name
    dump = sqlite_dump(path) if path is not None else "\n".join(after.values())
    assert not any(reference in dump for reference in gone)
    if path is not None:
        assert not any(reference.encode() in file_bytes(path) for reference in gone)

    # The other cases are as they were; the purged cases' audit rows stay, one 'purged' row each.
    for name in ("cases", "case_events"):
        assert [r for r in before[name].splitlines() if any(k in r or uuid.UUID(k).hex in r for k in kept.values())] == [
            r for r in after[name].splitlines() if any(k in r or uuid.UUID(k).hex in r for k in kept.values())
        ]
    with engine_of(service).connect() as conn:
        purged = conn.execute(text("SELECT case_id, subject, role, district FROM audit_records WHERE action = 'purged'")).all()
    assert sorted(str(uuid.UUID(str(r[0]))) for r in purged) == sorted(gone.values())
    assert {(r[1], r[2], r[3]) for r in purged} == {("drift-01", "operator", None)}
    kept_audit = after["audit_records"].splitlines()
    assert all(row in kept_audit for row in audit_before.splitlines())

    # Nothing is left to purge.
    assert "purged 0 closed cases" in purge(service, "--closed-before", "2021-01-01", "--by", "drift-01")


def test_the_period_comes_from_the_setting_and_the_operator_is_an_id(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    cid = open_case(service, "gallra-gammal-3", "2015-03-01")
    record(service, cid, "case_closed", "2016-05-01", reason="needs_met")
    noted_long_ago(service, cid)
    counted = purge(service, "--by", "drift-01", "--dry-run")
    assert f"would purge 1 closed cases (2 events), closed before {dt.date.today().year - 5}-" in counted
    monkeypatch.setenv("BRYTUPP_RETENTION_YEARS", "20")
    assert "would purge 0 closed cases" in purge(service, "--by", "drift-01", "--dry-run")

    url = service.settings.database_url
    for args in (
        ["--by", "Anna Svensson"],
        ["--by", "198503121234"],
        ["--by", "drift-01", "--closed-before", "2999-01-01"],
        ["--by", "drift-01", "--closed-before", "last year"],
    ):
        result = CliRunner().invoke(cli, ["purge", *args, "--database-url", url])
        assert result.exit_code == 2, (args, result.output)
    assert CliRunner().invoke(cli, ["purge", "--database-url", url]).exit_code == 2  # --by is required
