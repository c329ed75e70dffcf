"""Helpers for tests that drive a real ``brytupp serve`` process over HTTP from many threads."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from .service import ServerProcess, copy_processes, settings_for

OPENED = dt.date(2025, 1, 1)
ON = "2025-01-02"
FACTS: dict[str, Any] = {"age": 34, "entry_channel": "self_referral", "needs": ["financial"]}
STEPS = ("actualisation", "intake_registration")
_references = itertools.count()


def server_for(database_url: str, tmp_path: Path) -> ServerProcess:
    """A server process on this database (not started); call again for a second one on the same database."""
    processes = [tmp_path / "processes", tmp_path / "local_overrides"]
    if not processes[0].exists():
        processes = copy_processes(tmp_path)
    return ServerProcess(settings_for(database_url, processes), tmp_path)


@contextmanager
def serving(server: ServerProcess) -> Iterator[ServerProcess]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


def client(server: ServerProcess, timeout: float = 60) -> httpx.Client:
    # One connection per thread is what a browser or integration would hold; no retries.
    return httpx.Client(base_url=server.url, headers=server.headers(), timeout=timeout)


def open_case(http: httpx.Client) -> dict[str, Any]:
    body = {"district": "farsta", "reference": f"live-{next(_references)}", "facts": FACTS, "opened": OPENED.isoformat()}
    response = http.post("/cases", json=body)
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()
    return case


def step_event(tag: str, n: int = 0) -> dict[str, Any]:
    """An event that completes a step and leaves the facts alone, recognisable in the log by its
    date: each tag gets a day of its own (outcomes are declared per step, so they cannot carry it)."""
    with _tags_lock:
        on = _tag_days.get(tag)
        if on is None:
            on = _tag_days[tag] = (OPENED + dt.timedelta(days=1 + len(_tag_days))).isoformat()
            _day_tags[on] = tag
    return {"kind": "step_completed", "step": STEPS[n % 2], "on": on}


def tag_of(event: dict[str, Any]) -> str | None:
    """The tag of a ``step_event``, sent or logged."""
    if event["kind"] != "step_completed":
        return None
    return _day_tags.get(event["on"])


_tag_days: dict[str, str] = {}
_day_tags: dict[str, str] = {}
_tags_lock = threading.Lock()


def history(http: httpx.Client, case_id: str) -> list[dict[str, Any]]:
    response = http.get(f"/cases/{case_id}/events")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events
