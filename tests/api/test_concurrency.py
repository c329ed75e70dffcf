"""Sixteen clients appending to one case and updating its facts at once, against a real
server process: every acknowledged event is stored exactly once, stale updates get 412,
nothing else is lost."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.live import ON, OPENED, client, history, open_case, server_for, serving, step_event, tag_of

THREADS = 16
ROUNDS = 10


@dataclass
class Seen:
    """What one client saw."""

    posts: list[tuple[str, dict[str, Any], int, dict[str, Any]]] = field(default_factory=list)  # key, body, status, answer
    puts: list[tuple[int, str, int, int]] = field(default_factory=list)  # If-Match sent, report_received, status, version after
    unexpected: list[str] = field(default_factory=list)


def _event(n: int, i: int) -> dict[str, Any]:
    if i % 5 == 4:  # changes the facts, so it moves the case's row_version too
        return {"kind": "consent_given" if n % 2 else "consent_withdrawn", "consent": "joint_handling", "on": ON}
    return step_event(f"w{n}_{i}", n + i)


def _client_run(http: httpx.Client, case_id: str, n: int, start: threading.Barrier) -> Seen:
    seen = Seen()
    path = f"/cases/{case_id}"

    def post(key: str, body: dict[str, Any]) -> None:
        response = http.post(f"{path}/events", json=body, headers={"Idempotency-Key": key})
        if response.status_code not in (200, 201):
            seen.unexpected.append(f"POST {key}: {response.status_code} {response.text}")
            return
        seen.posts.append((key, body, response.status_code, response.json()))

    def put(version: int, facts: dict[str, Any], received: str) -> int:
        response = http.put(f"{path}/facts", json={"facts": facts}, headers={"If-Match": f'"{version}"'})
        if response.status_code == 200:
            after = response.json()["row_version"]
            assert response.headers["ETag"] == f'"{after}"'
        elif response.status_code == 412:
            after = int(response.headers["ETag"].strip('"'))  # the version that made this one stale
        else:
            seen.unexpected.append(f"PUT {received}: {response.status_code} {response.text}")
            return 0
        seen.puts.append((version, received, response.status_code, after))
        return response.status_code

    start.wait()
    with ThreadPoolExecutor(2) as twice:
        for i in range(ROUNDS):
            key, body = f"w{n}-{i}", _event(n, i)
            if i % 3 == 1:  # the client gave up waiting and sent it again while the first was still on its way
                list(twice.map(post, [key, key], [body, body]))
            else:
                post(key, body)
                if i % 3 == 0:  # the answer was lost: the client sends it again
                    post(key, body)
            read = http.get(path)
            if read.status_code != 200:
                seen.unexpected.append(f"GET: {read.status_code} {read.text}")
                continue
            version = int(read.headers["ETag"].strip('"'))
            received = (OPENED + dt.timedelta(days=1 + n * ROUNDS + i)).isoformat()
            facts = {**read.json()["facts"], "report_received": received}
            if put(version, facts, received) == 200:
                put(version, facts, received)  # the same update again: now certainly stale
    return seen


def test_sixteen_clients_appending_and_updating_one_case(database_url: str, tmp_path: Path) -> None:
    with serving(server_for(database_url, tmp_path)) as server, client(server) as http:
        case = open_case(http)
        case_id, first_version = case["id"], case["row_version"]
        start = threading.Barrier(THREADS)
        clients = [client(server) for _ in range(THREADS)]
        began = time.monotonic()
        try:
            with ThreadPoolExecutor(THREADS) as pool:
                runs = list(pool.map(lambda n: _client_run(clients[n], case_id, n, start), range(THREADS)))
        finally:
            for c in clients:
                c.close()
        took = time.monotonic() - began
        final = http.get(f"/cases/{case_id}")
        log = history(http, case_id)

    assert [u for run in runs for u in run.unexpected] == []
    posts = [p for run in runs for p in run.posts]
    puts = [p for run in runs for p in run.puts]

    # Each logical event: acknowledged once with 201, any repeat answered 200 with the very same body.
    by_key: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    bodies = {}
    for key, body, status, answer in posts:
        by_key[key].append((status, answer))
        bodies[key] = body
    assert len(by_key) == THREADS * ROUNDS
    for key, answers in by_key.items():
        assert sorted(status for status, _ in answers) == [200] * (len(answers) - 1) + [201], key
        assert all(answer == answers[0][1] for _, answer in answers), key
    acknowledged = {answers[0][1]["id"]: key for key, answers in by_key.items()}

    # ... and stored exactly once: the log holds exactly the acknowledged events, each once.
    recorded = [e for e in log if e["kind"] not in ("case_opened", "facts_updated")]
    assert sorted(e["id"] for e in recorded) == sorted(acknowledged)
    for event in recorded:
        answer = by_key[acknowledged[event["id"]]][0][1]
        assert event == answer
    tags = Counter(tag_of(e) for e in recorded if tag_of(e) is not None)
    assert set(tags.values()) == {1}
    assert set(tags) == {tag_of(body) for body in bodies.values() if body["kind"] == "step_completed"}

    # Stale updates got 412, and only when the case had in fact moved on.
    won = [p for p in puts if p[2] == 200]
    stale = [p for p in puts if p[2] == 412]
    assert won and stale
    assert [p for p in won if p[3] != p[0] + 1] == []  # each answer is the version that update made
    assert all(after > sent for sent, _, _, after in stale)
    # Of updates made from the same version, at most one won.
    assert len({sent for sent, *_ in won}) == len(won)

    # Nothing else lost: every version step is a won update or an acknowledged event (every write moves the ETag).
    assert final.status_code == 200
    assert final.json()["row_version"] - first_version == len(won) + len(by_key)
    updates = [e for e in log if e["kind"] == "facts_updated"]
    assert sorted(e["facts"]["report_received"] for e in updates) == sorted(received for _, received, _, _ in won)
    last_facts = [e["facts"] for e in log if e["facts"] is not None][-1]
    assert final.json()["facts"] == last_facts
    print(
        f"\n{database_url.split(':')[0]}: {len(posts)} POSTs, {len(by_key)} events, {len(won)} updates won, "
        f"{len(stale)} got 412, row_version {first_version}->{final.json()['row_version']}, {took:.1f}s"
    )
