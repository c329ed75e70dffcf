"""PostgreSQL goes down under a running service: requests that need it answer 503 with
Retry-After (not 500, no stack trace), and the service recovers by itself when it is back."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import httpx
import psycopg
import pytest

from tests.live import client, open_case, server_for, serving, step_event
from tests.postgres import PostgresServer

CLIENTS = 16


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"].isdigit()
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["detail"] and isinstance(body["detail"], str)
    for leak in ("Traceback", "psycopg", "OperationalError", "127.0.0.1", "incident"):
        assert leak not in response.text


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_database_down_is_503_and_the_service_recovers_by_itself(database_url: str, postgres: object, tmp_path: Path) -> None:
    pg = cast(PostgresServer, postgres)
    server = server_for(database_url, tmp_path)
    with serving(server), client(server, timeout=30) as http, ThreadPoolExecutor(CLIENTS) as pool:
        case_id = open_case(http)["id"]
        path = f"/cases/{case_id}"
        # Fill the connection pool: every one of these connections dies with the database.
        assert {r.status_code for r in pool.map(lambda _: http.get(path), range(CLIENTS))} == {200}

        pg.pause()
        try:
            down = time.monotonic()
            reads = list(pool.map(lambda _: http.get(path), range(CLIENTS)))
            write = http.post(f"{path}/events", json=step_event("while_down"), headers={"Idempotency-Key": "while-down"})
            update = http.put(f"{path}/facts", json={"facts": {"age": 35}}, headers={"If-Match": '"1"'})
            answered_in = time.monotonic() - down
            health = http.get("/health")
        finally:
            pg.resume()
        for response in [*reads, write, update]:
            _assert_unavailable(response)
        assert health.status_code == 200  # liveness does not need the database

        # Back by itself: the same request succeeds within a few seconds, without a restart of the service.
        back = time.monotonic()
        while (read := http.get(path)).status_code != 200 and time.monotonic() - back < 10:
            _assert_unavailable(read)
            time.sleep(0.1)
        recovered_in = time.monotonic() - back
        assert read.status_code == 200 and recovered_in < 5
        # Every pooled connection the restart killed is replaced, not handed out dead.
        assert {r.status_code for r in pool.map(lambda _: http.get(path), range(CLIENTS))} == {200}
        # The write refused while the database was down was not half-stored: sending it again records it.
        again = http.post(f"{path}/events", json=step_event("while_down"), headers={"Idempotency-Key": "while-down"})
        assert again.status_code == 201, again.text
        assert server.proc is not None and server.proc.poll() is None
    assert "Traceback" not in server.log.read_text()

    # The session's PostgreSQL is there for the tests after this one.
    with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=brytupp dbname=brytupp_test connect_timeout=2") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    print(
        f"\n{CLIENTS + 2} requests answered 503 in {answered_in:.2f}s while down; recovered {recovered_in:.2f}s after the restart"
    )
