"""Processes in a running service: listing, hot reload that never serves a broken
file, cases that stay on their version until migrated."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.auth import Role
from tests.service import ServerProcess, Service, copy_processes, settings_for

FACTS = {"age": 34, "entry_channel": "self_referral"}
TIGHTER = ("    within: 14d", "    within: 12d")


def farsta(service: Service) -> Path:
    return next(p for p in service.settings.processes if p.name == "local_overrides") / "farsta.yaml"


def new_case(client: httpx.Client | object, headers: dict[str, str]) -> dict[str, object]:
    response = client.post(
        "/cases", json={"district": "farsta", "reference": "k-0001", "facts": FACTS, "opened": "2025-02-03"}, headers=headers
    )  # type: ignore[attr-defined]
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_list_shows_every_district_with_version_and_status(service: Service) -> None:
    listed = service.client.get("/processes", headers=service.headers(Role.implementer)).json()
    assert len(listed["districts"]) == 11
    assert {d["status"] for d in listed["districts"]} == {"ok"}
    jarva = next(d for d in listed["districts"] if d["district"] == "jarva")
    assert jarva["local_steps"] > 0 and re.fullmatch(r"[0-9a-f]{16}", jarva["version"])


def test_effective_process_of_one_district(service: Service) -> None:
    response = service.client.get("/processes/farsta", headers=service.headers(Role.implementer))
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == service.registry.current("farsta").version
    assert "child_preliminary_assessment" in body["process"]["steps"]
    assert service.client.get("/processes/gotham", headers=service.headers(Role.implementer)).status_code == 404


def test_a_broken_file_keeps_the_last_good_version_serving(service: Service) -> None:
    path = farsta(service)
    good = path.read_text()
    version = service.registry.current("farsta").version
    case = new_case(service.client, service.headers())
    path.write_text(good.replace("extends: bryt_upp", "extends: bryt_upp\nunits: [oops"))
    assert service.registry.reload()
    listed = service.client.get("/processes", headers=service.headers(Role.implementer)).json()
    state = next(d for d in listed["districts"] if d["district"] == "farsta")
    assert state["status"] == "errors" and state["version"] == version
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: ", state["findings"][0]), state["findings"]
    # Deciding and registering go on with the last good version.
    assert service.client.get(f"/cases/{case['id']}/next-steps", headers=service.headers()).status_code == 200
    second = service.client.post("/cases", json={"district": "farsta", "reference": "k-0002"}, headers=service.headers())
    assert second.json()["process_version"] == version
    # A file that loads but fails validation is held back the same way.
    path.write_text(good.replace("role: ", "role: no_such_role_", 1) if "role: " in good else good + "\nbogus: 1\n")
    service.registry.reload()
    assert service.registry.snapshot.districts["farsta"].findings
    assert service.registry.current("farsta").version == version


def test_a_fixed_file_brings_the_new_version_and_cases_stay_until_migrated(service: Service) -> None:
    path = farsta(service)
    case = new_case(service.client, service.headers())
    old = case["process_version"]
    path.write_text(path.read_text() + "\n# a comment changes nothing\n")
    service.registry.reload()
    assert service.registry.current("farsta").version == old, "comments do not make a new version"
    text = path.read_text()
    assert "10d" in text
    path.write_text(text.replace("within: 10d", "within: 9d"))
    assert service.registry.reload()
    new = service.registry.current("farsta").version
    assert new != old
    decision = service.client.get(f"/cases/{case['id']}/next-steps", headers=service.headers()).json()
    assert decision["process_version"] == old
    migrated = service.client.post(f"/cases/{case['id']}/migrate", headers=service.headers())
    assert migrated.status_code == 200 and migrated.json()["process_version"] == new
    trail = service.client.get("/audit", params={"case_id": case["id"]}, headers=service.headers(Role.manager)).json()
    assert trail[0]["action"] == "migrated"


def test_a_case_keeps_its_version_across_a_restart(database_url: str, tmp_path: Path) -> None:
    processes = copy_processes(tmp_path)
    settings = settings_for(database_url, processes)
    with Service(settings) as first:
        case = new_case(first.client, first.headers())
    path = processes[1] / "farsta.yaml"
    path.write_text(path.read_text().replace("within: 10d", "within: 9d"))
    with Service(settings) as second:
        assert second.registry.current("farsta").version != case["process_version"]
        decision = second.client.get(f"/cases/{case['id']}/next-steps", headers=second.headers())
        assert decision.status_code == 200, decision.text
        assert decision.json()["process_version"] == case["process_version"]


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    settings = settings_for(database_url, copy_processes(tmp_path))
    proc = ServerProcess(settings, tmp_path, reload_interval=0.2).start()
    try:
        yield proc
    finally:
        proc.stop()


def wait_for(check: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_hot_reload_in_a_running_server(server: ServerProcess) -> None:
    """The issue's bar: corrupt a district file while the service runs."""
    client = httpx.Client(base_url=server.url, timeout=10)
    headers, implementer = server.headers(), server.headers(Role.implementer, None)
    case = new_case(client, headers)
    path = server.settings.processes[1] / "farsta.yaml"
    good = path.read_text()

    def farsta_state() -> dict[str, object]:
        listed = client.get("/processes", headers=implementer).json()
        return dict(next(d for d in listed["districts"] if d["district"] == "farsta"))

    path.write_text(good.replace("units:", "units: [\n", 1))
    wait_for(lambda: farsta_state()["status"] == "errors")
    finding = farsta_state()["findings"][0]  # type: ignore[index]
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: ", finding)
    for _ in range(20):
        answer = client.get(f"/cases/{case['id']}/next-steps", headers=headers)
        assert answer.status_code == 200 and answer.json()["process_version"] == case["process_version"]
    path.write_text(good.replace("within: 10d", "within: 9d"))
    wait_for(lambda: farsta_state()["status"] == "ok" and farsta_state()["version"] != case["process_version"])
    created = client.post("/cases", json={"district": "farsta", "reference": "k-0002"}, headers=headers).json()
    assert created["process_version"] == farsta_state()["version"]
