"""kill -9 the server during a write load, start it again on the same database: every event
acknowledged before the kill is there, once; sending the unanswered ones again adds no duplicate."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.live import client, history, open_case, server_for, serving, step_event, tag_of

WRITERS = 8
ACKNOWLEDGED_BEFORE_KILL = 150


def test_events_acknowledged_before_kill_9_survive_it(database_url: str, tmp_path: Path) -> None:
    first = server_for(database_url, tmp_path).start()
    try:
        with client(first) as http:
            # Two cases, four writers each: appends to one case queue on its lock, the two cases' commits overlap.
            cases = [open_case(http)["id"] for _ in range(2)]
        acknowledged: dict[str, str] = {}  # tag -> case id, answered 201
        unanswered: dict[str, str] = {}  # tag -> case id, sent but no answer (the server died)
        unexpected: list[str] = []
        lock = threading.Lock()
        killed = threading.Event()

        def write(n: int) -> None:
            case_id = cases[n % 2]
            with client(first, timeout=30) as mine:
                for i in range(100_000):
                    tag = f"w{n}_{i}"
                    try:
                        response = mine.post(
                            f"/cases/{case_id}/events", json=step_event(tag, i), headers={"Idempotency-Key": tag}
                        )
                    except httpx.TransportError:
                        with lock:
                            unanswered[tag] = case_id
                        return
                    with lock:
                        if response.status_code == 201:
                            acknowledged[tag] = case_id
                        else:
                            unexpected.append(f"{tag}: {response.status_code} {response.text}")
                    if killed.is_set():
                        return

        with ThreadPoolExecutor(WRITERS) as pool:
            running = [pool.submit(write, n) for n in range(WRITERS)]
            deadline = time.monotonic() + 30
            while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL and time.monotonic() < deadline:
                time.sleep(0.01)
            first.kill()  # SIGKILL while the writers are still sending
            killed.set()
            with lock:
                before_kill = dict(acknowledged)
            for future in running:
                future.result()
    finally:
        first.kill()

    assert unexpected == []
    assert len(before_kill) >= 20  # the target, unless the machine is very slow
    # Each writer stopped at its first request without an answer (or saw the kill flag first).
    assert len(unanswered) <= WRITERS

    with serving(server_for(database_url, tmp_path)) as second, client(second) as http:
        logs = {case_id: history(http, case_id) for case_id in cases}
        stored = {case_id: Counter(tag_of(e) for e in log if tag_of(e)) for case_id, log in logs.items()}
        for tag, case_id in acknowledged.items():
            assert stored[case_id][tag] == 1, f"acknowledged event {tag} lost or doubled"
        assert all(count == 1 for counts in stored.values() for count in counts.values())
        survived_unanswered = sum(1 for tag, case_id in unanswered.items() if stored[case_id][tag])

        # The unanswered ones, sent again with their keys: recorded now, or recognised as already there.
        for tag, case_id in unanswered.items():
            i = int(tag.rsplit("_", 1)[1])
            response = http.post(f"/cases/{case_id}/events", json=step_event(tag, i), headers={"Idempotency-Key": tag})
            assert response.status_code == (200 if stored[case_id][tag] else 201), response.text
        again = {case_id: Counter(tag_of(e) for e in history(http, case_id) if tag_of(e)) for case_id in cases}

    for tag, case_id in (acknowledged | unanswered).items():
        assert again[case_id][tag] == 1
    assert sum(sum(counts.values()) for counts in again.values()) == len(acknowledged) + len(unanswered)
    print(
        f"\n{database_url.split(':')[0]}: {len(acknowledged)} acknowledged ({len(before_kill)} before the kill), "
        f"{len(unanswered)} cut off ({survived_unanswered} of them stored anyway), all there after the restart"
    )
