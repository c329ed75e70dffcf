"""Prometheus metrics, served at ``/metrics`` (``BRYTUPP_METRICS``, on by default).

Every label value is chosen by the service, never taken from a request: the route's
path template (``/cases/{case_id}``, ``unmatched`` when no route took it, as in the
access log), the method, the status, the kind of decision, a district's name from
the process files.  A case id, a query value or a body never becomes a label, so a
scrape cannot hold personal data however the service was called.

With ``brytupp serve --workers N`` each worker is a process of its own: the metrics
then live in files under ``PROMETHEUS_MULTIPROC_DIR`` (``serve`` makes that folder,
or empties the one given, before the workers start) and ``/metrics`` sums them, so
one scrape counts every worker whichever answers it.  That mode is chosen when
prometheus_client is first imported, hence the variable is set before the workers
start and never changed afterwards.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter("brytupp_requests", "Requests answered, by route template, method and status.", ["route", "method", "status"])
# Buckets around what the service answers in: a decision takes milliseconds, a report may take seconds.
LATENCY = Histogram(
    "brytupp_request_duration_seconds",
    "Time to answer, by route template, method and status.",
    ["route", "method", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DECISIONS = Counter("brytupp_decisions", "Decisions made: next steps of a case, or a what-if question.", ["kind"])
SWITCHES = Counter("brytupp_process_version_switches", "Times a district's current process version changed.", ["district"])
# Per process (a pid label with --workers), so that an operator sees how the workers share the load;
# 'live' modes drop a worker's values once it has stopped cleanly.
WORKER_REQUESTS = Gauge(
    "brytupp_worker_requests", "Requests this worker answered since it started.", multiprocess_mode="liveall"
)
AUDIT_QUEUE = Gauge(
    "brytupp_audit_queue_depth",
    "Audit records waiting for their group commit (the reads waiting on them); summed over workers.",
    multiprocess_mode="livesum",
)

def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    labels = (route, method, str(status))
    REQUESTS.labels(*labels).inc()
    LATENCY.labels(*labels).observe(seconds)
    WORKER_REQUESTS.inc()


def decision_made(kind: str) -> None:
    """``kind``: ``next_steps`` or ``what_if``; a constant of the route, never request data."""
    DECISIONS.labels(kind).inc()


def version_switched(district: str) -> None:
    """For the registry: call once each time a district's current version changes on this instance."""
    SWITCHES.labels(district).inc()


def track_audit_queue(depth: Callable[[], int], interval: float = 1.0) -> Callable[[], None]:
    """Publish the audit queue's depth; returns what stops it.  In one process the gauge reads the
    queue at scrape time.  Workers' gauges are files another process reads, so a thread writes the
    depth there every ``interval`` seconds instead (a request path never pays for it)."""
    if not multiprocess_mode():
        AUDIT_QUEUE.set_function(lambda: float(depth()))
        return lambda: None
    stop = threading.Event()

    def refresh() -> None:
        while True:
            AUDIT_QUEUE.set(depth())
            if stop.wait(interval):
                return

    threading.Thread(target=refresh, name="metrics-audit-depth", daemon=True).start()

    def finish() -> None:
        stop.set()
        # A stopped worker's live gauges leave the sums (a killed one's stay until the folder is emptied).
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    return finish


def exposition() -> tuple[bytes, str]:
    """The text a scrape gets, and its content type."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
