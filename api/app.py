"""The case service: ``create_app(settings)`` builds the FastAPI application.

At start: the database is migrated (Alembic) and the process versions the database
says are current are loaded (in development the process files are published first,
and watched); the registry then follows the database (api/registry.py).  Swagger
UI's files are served from the installed package, not a CDN.
"""

from __future__ import annotations

import logging
import sys
import threading
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from . import errors, metrics, readiness
from .audit import AuditRefusals, AuditWriter
from .auth import Verifier
from .context import RequestContext
from .db import engine_for, reader_of, start_when_migrated
from .guards import BodyLimit, no_personal_numbers
from .headers import SecurityHeaders
from .logs import AccessLog
from .registry import Registry
from .revocation import Revocations
from .routes import (
    bench,
    cases,
    change_pages,
    decide,
    diagrams,
    drafts,
    equality_pages,
    goal_pages,
    goals,
    manager_pages,
    pages,
    process_pages,
    processes,
    reports,
    tokens,
    work_pages,
    worklists,
)
from .routes.deps import once_started
from .settings import Settings
from .versions import VersionStore
from .worklist import Cursors

log = logging.getLogger("brytupp.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    # Here, not in `brytupp serve`: each worker of --workers N (or of uvicorn --factory) is a process of its own.
    sys.setswitchinterval(settings.switch_interval)
    # One pool serves both: the reader is the same pool in autocommit (api/db.py).
    engine = engine_for(settings)
    reader = reader_of(engine)
    # The group commit's own connection: requests wait for it while holding a pooled connection,
    # so from the shared pool it could wait for theirs and never commit.
    audit_engine = engine_for(settings, pool_size=1, max_overflow=0)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        def start() -> None:
            store = VersionStore(engine, listen=not settings.transaction_pooling, timezone=settings.timezone)
            registry = Registry(settings.processes, store, read_files=settings.reads_files)
            registry.reload()
            registry.watch(settings.reload_interval, settings.follow_interval)
            app.state.registry = registry

        app.state.audit_writer = AuditWriter(audit_engine)
        stop_depth = metrics.track_audit_queue(app.state.audit_writer.depth)
        # On a schema older than this release with migrating left to the job, start() waits in a thread.
        stopping = threading.Event()
        waiter = start_when_migrated(engine, settings, start, stopping)
        try:
            yield
        finally:
            stopping.set()
            if waiter is not None:
                waiter.join()
            if getattr(app.state, "registry", None) is not None:
                app.state.registry.stop()
            stop_depth()
            app.state.audit_writer.close()
            engine.dispose()
            audit_engine.dispose()

    app = FastAPI(
        title="Bryt upp – ärendetjänst",
        summary="Next steps for a client's case on Stockholm's Bryt upp pathway, per district.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(no_personal_numbers)],
    )
    app.state.settings = settings
    # Signed once: in development the key is read from a file, which no request should do again.
    app.state.cursors = Cursors(settings.cursor_key())
    app.state.engine = engine
    app.state.reader = reader
    app.state.revocations = Revocations(reader, engine, settings.revocation_refresh)
    app.state.verifier = Verifier(settings, revoked=once_started(app, app.state.revocations.is_revoked))
    errors.install(app, page=pages.error_page)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, draft_limit=settings.max_draft_bytes)
    app.add_middleware(errors.Incidents)
    # Outside Incidents, so that an unhandled error's 500 is audited as the refusals are.
    app.add_middleware(AuditRefusals)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLog)
    # Outermost: every answer, a 413 included, carries the request id.
    app.add_middleware(RequestContext)
    api_routers = (cases, decide, drafts, processes, diagrams, reports, worklists, goals, tokens)
    page_routers = (pages, work_pages, change_pages, manager_pages, goal_pages, equality_pages, process_pages)
    for module in (*api_routers, *page_routers):
        app.include_router(module.router)
    if settings.bench_endpoints:
        app.include_router(bench.router)
    app.mount("/static/swagger", StaticFiles(directory=str(resources.files("fastapi_swagger") / "resources")), name="swagger")
    app.mount("/static/app", StaticFiles(directory=Path(__file__).parent / "static"), name="app")

    @app.exception_handler(pages.LoginNeeded)
    async def _login(_request: Request, exc: pages.LoginNeeded) -> RedirectResponse:
        return RedirectResponse("/ui/login?" + urllib.parse.urlencode({"next": exc.next_url}), status_code=303)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """People who open the service's address land on the pages, not on a bare 404."""
        return RedirectResponse("/ui", status_code=307)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Bryt upp – API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness: answers without touching the database."""
        return {"status": "ok"}

    @app.get("/ready", include_in_schema=False)
    async def ready(request: Request) -> JSONResponse:
        """Readiness, for the load balancer (api/readiness.py): 503 naming the checks that failed."""
        checks = await readiness.checks(app.state.reader, getattr(request.app.state, "registry", None))
        failed = sorted(name for name, outcome in checks.items() if outcome != readiness.OK)
        body = {"status": "not ready" if failed else "ready", "failed": failed, "checks": checks}
        return JSONResponse(body, status_code=503 if failed else 200, headers={"Cache-Control": "no-store"})

    if settings.metrics:

        @app.get("/metrics", include_in_schema=False)
        def prometheus() -> Response:
            """Prometheus' text format; every label is the service's own (api/metrics.py)."""
            data, content_type = metrics.exposition()
            return Response(data, media_type=content_type, headers={"Cache-Control": "no-store"})

    return app


def from_environment() -> FastAPI:
    """The application with settings from the environment: the factory the workers of
    ``brytupp serve --workers N`` import (``uvicorn --factory api.app:from_environment``)."""
    return create_app(Settings())
