"""Benchmark: the next-step endpoint under load, beside two reference endpoints of the same app.

One run, for SQLite and for PostgreSQL (a server this script starts, as the tests do):
``brytupp serve`` (one worker) with a few hundred cases, and Debian's ``wrk`` on
loopback at 64 concurrent connections against

  (a) ``GET /health``: no database, no authentication: the framework's ceiling;
  (b) ``GET /bench/audited-read/{id}``: the plain way to serve an audited read:
      authenticate, read one row, insert one audit row, commit;
  (c) ``GET /cases/{id}/next-steps``: the product: authenticate, read the case and
      its event log, insert one audit row, commit, and the whole decision.

Goal (issue 4): (c) ≥ 80 % of (b)'s requests/s with p99 ≤ 1.5 × (b)'s.
On PostgreSQL also (d): (c) through two instances on the one database, the connections
shared out between them (issue 12), beside (c) through one.  And (e): (c) while one client
polls a unit's worklist as fast as it answers (issue 16: the list once decided every open case
of the district per call and cut next steps to a third), beside (c) alone.
The load generator shares the machine's cores with the server: figures are for
comparing the three endpoints in one run, not absolute capacity.

Run: .venv/bin/python bench/api.py [--seconds 10] [--cases 200] [--connections 64] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The servers run this tree's code too, not whichever checkout the venv was installed from:
# a copy of an earlier commit measures that commit.
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])

from databases import on_each_database  # noqa: E402

from tests.postgres import PostgresServer  # noqa: E402
from tests.service import ServerProcess, copy_processes, fresh_database, settings_for  # noqa: E402

LUA = """
local ids = {%(ids)s}
local i = 0
wrk.headers["Authorization"] = "Bearer %(token)s"
request = function()
  i = i + 1
  return wrk.format("GET", "%(prefix)s" .. ids[(i %% #ids) + 1] .. "%(suffix)s")
end
"""


def seed(server: ServerProcess, cases: int) -> list[str]:
    """Cases in Farsta at different points of the pathway, registered through the API."""
    client = httpx.Client(base_url=server.url, headers=server.headers(), timeout=30)
    steps = ["actualisation", "intake_registration", "initial_safety_assessment", "risk_assessment", "consent_joint_handling"]
    ids = []
    for n in range(cases):
        facts = {
            "age": 20 + n % 60,
            "entry_channel": ["self_referral", "police", "health_care"][n % 3],
            "needs": [["financial"], ["practical", "housing"], []][n % 3],
            "consent_joint_handling": n % 2 == 0,
            "risk_level": ["low", "medium", "high"][n % 3],
            "risk_instrument": "freda",
        }
        if n % 4 == 0:
            facts["children"] = [{"age": 7, "witnessed_violence": True, "accompanying": False, "in_school": True}]
            facts["report_received"] = "2025-02-03"
        body = {"district": "farsta", "reference": f"bench-{n:05d}", "facts": facts, "opened": "2025-02-03"}
        case = client.post("/cases", json=body).raise_for_status().json()
        for step in steps[: n % (len(steps) + 1)]:
            event = {"kind": "step_completed", "on": "2025-02-04", "step": step}
            client.post(f"/cases/{case['id']}/events", json=event).raise_for_status()
        ids.append(case["id"])
    return ids


def wrk(url: str, script: Path | None, seconds: int, connections: int) -> tuple[float, float, float]:
    done = subprocess.run(_wrk(url, script, seconds, connections), capture_output=True, text=True, check=True)
    return _figures(url, done.stdout)


def wrk_at_once(urls: list[str], script: Path, seconds: int, connections: int) -> tuple[float, float, float]:
    """One wrk per instance, all at once, the connections shared out (a load balancer's round robin):
    the requests/s summed, the p50 and p99 of the slowest."""
    share = max(1, connections // len(urls))
    running = [subprocess.Popen(_wrk(url, script, seconds, share), stdout=subprocess.PIPE, text=True) for url in urls]
    figures = [_figures(url, proc.communicate()[0]) for url, proc in zip(urls, running, strict=True)]
    return sum(f[0] for f in figures), max(f[1] for f in figures), max(f[2] for f in figures)


def _wrk(url: str, script: Path | None, seconds: int, connections: int) -> list[str]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script)]
    return [*command, url]


def _figures(url: str, output: str) -> tuple[float, float, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} error responses\n{output}")

    def percentile(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rps, percentile("50"), percentile("99")


@contextlib.contextmanager
def polling(server: ServerProcess, unit: str) -> Iterator[Callable[[], int]]:
    """One client asking for the unit's worklist again and again while the block runs; how many pages it got."""
    stop, count = threading.Event(), [0]

    def poll() -> None:
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as client:
            while not stop.is_set():
                assert client.get(f"/units/{unit}/worklist", params={"limit": 50}).status_code == 200
                count[0] += 1

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield lambda: count[0]
    finally:
        stop.set()
        thread.join()


def run(kind: str, postgres: PostgresServer | None, args: argparse.Namespace, tmp: Path) -> None:
    where = tmp / kind
    where.mkdir()
    url = fresh_database(kind, where, postgres.url if postgres else None)
    server = ServerProcess(settings_for(url, copy_processes(where)), where).start()
    try:
        ids = seed(server, args.cases)
        token = server.headers()["Authorization"].removeprefix("Bearer ")
        rows = {}
        rows["(a) trivial: GET /health"] = wrk(server.url + "/health", None, args.seconds, args.connections)
        for name, prefix, suffix in (
            ("(b) audited read of one row", "/bench/audited-read/", ""),
            ("(c) next steps (the decision)", "/cases/", "/next-steps?today=2025-02-10"),
        ):
            script = where / f"{name[1]}.lua"
            script.write_text(LUA % {"ids": ",".join(f'"{i}"' for i in ids), "token": token, "prefix": prefix, "suffix": suffix})
            rows[name] = wrk(server.url, script, args.seconds, args.connections)
        with polling(server, "mottagningsenheten") as polls:
            rows["(e) next steps, a worklist polled"] = wrk(server.url, script, args.seconds, args.connections)
        worklist_polls = polls()
        if postgres is not None:
            # A second instance on the same database (issue 12): the same load shared out over both.
            second = ServerProcess(settings_for(url, copy_processes(where / "second")), where).start()
            try:
                both = [server.url, second.url]
                rows["(d) next steps, 2 instances"] = wrk_at_once(both, script, args.seconds, args.connections)
            finally:
                second.stop()
    finally:
        server.stop()
    print(f"\n{kind}: {args.cases} cases, {args.connections} connections, {args.seconds} s each, one worker")
    for name, (rps, p50, p99) in rows.items():
        print(f"  {name:<34} {rps:9.0f} req/s   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
    b, c = rows["(b) audited read of one row"], rows["(c) next steps (the decision)"]
    print(
        f"  next steps vs audited read: {c[0] / b[0]:.0%} of the throughput (goal ≥ 80 %), p99 {c[2] / b[2]:.2f}× (goal ≤ 1.5×)"
    )
    e = rows["(e) next steps, a worklist polled"]
    print(f"  a worklist polled meanwhile ({worklist_polls} pages): next steps at {e[0] / c[0]:.0%} of the throughput alone")
    if "(d) next steps, 2 instances" in rows:
        d = rows["(d) next steps, 2 instances"]
        ratio = f"{d[0] / c[0]:.2f}× the throughput, p99 {d[2] / c[2]:.2f}×"
        print(f"  2 instances vs 1: {ratio} (both share the machine's cores with wrk and PostgreSQL)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    on_each_database(run, args)


if __name__ == "__main__":
    main()
