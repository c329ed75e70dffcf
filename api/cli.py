"""The ``brytupp`` command: the engine's commands plus the service's.

``serve`` runs the case service, ``migrate`` brings its schema to head (the deploy
job's step), ``token`` mints a local bearer token,
``draft`` submits a process file for review,
``demo-cases`` registers a few demo clients through the API itself,
``demo-data`` writes a synthetic data set for the effect goals, ``goals``
prints them and ``purge`` erases closed cases after the retention period.  The engine
never imports the service; this module joins them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.cli import app, err, out

from .auth import Role, mint
from .settings import Settings


def _settings() -> Settings:
    """The settings, or a clear refusal (production without a key or a database URL)."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        for problem in exc.errors():
            err.print(str(problem.get("msg", "")).removeprefix("Value error, "), markup=False)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: BRYTUPP_HOST or 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: BRYTUPP_PORT or 8000.")] = None,
    database_url: Annotated[str | None, typer.Option(help="Default: DATABASE_URL, else SQLite in var/.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes. Default: BRYTUPP_WORKERS or 1.")] = None,
) -> None:
    """Run the case service: one process, or --workers N processes on one port (migrated once, before they start)."""
    import uvicorn

    from .logs import LOG_CONFIG

    settings = _settings()
    given = {"host": host, "port": port, "database_url": database_url, "workers": workers}
    updates = {k: v for k, v in given.items() if v is not None}
    settings = settings.model_copy(update=updates)
    err.print(
        f"Bryt upp service on http://{settings.host}:{settings.port}  (pages /ui, API docs /docs; {settings.workers} worker(s))",
        markup=False,
    )
    # Uvicorn's access log and its WebSocket lines carry the query string: the app writes its own (api/logs.py).
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "log_config": LOG_CONFIG,
        "access_log": False,
        "ws": "none",
        "timeout_graceful_shutdown": settings.shutdown_seconds,
    }
    if settings.workers == 1:
        from .app import create_app

        uvicorn.run(create_app(settings), **options)
        return
    with _worker_environment(settings):
        uvicorn.run("api.app:from_environment", factory=True, workers=settings.workers, **options)


@contextlib.contextmanager
def _worker_environment(settings: Settings) -> Iterator[None]:
    """What the workers of ``serve --workers N`` inherit: this command's settings, the schema migrated
    once here (N workers migrating at once race), and one metrics folder they all write."""
    import os
    import shutil
    import tempfile

    from .metrics import MULTIPROC_ENV

    inherited = ("BRYTUPP_HOST", "BRYTUPP_PORT", "BRYTUPP_DATABASE_URL", "BRYTUPP_MIGRATE_ON_START", MULTIPROC_ENV)
    before = {name: os.environ.get(name) for name in inherited}
    # Workers are new interpreters that read their settings from the environment.
    os.environ.update(BRYTUPP_HOST=settings.host, BRYTUPP_PORT=str(settings.port), BRYTUPP_DATABASE_URL=settings.database_url)
    if settings.migrate_on_start:
        migrate()  # the migrate job's own step, with this command's database (set above)
    os.environ["BRYTUPP_MIGRATE_ON_START"] = "false"
    made = None
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        # prometheus_client's rule: the folder is emptied before the processes that write it start.
        for stale in Path(folder).glob("*.db"):
            stale.unlink()
    else:
        made = tempfile.mkdtemp(prefix="brytupp-metrics-")
        os.environ[MULTIPROC_ENV] = made
    try:
        yield
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        # Only matters when called in a process that goes on (the tests): leave its environment as it was.
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="caseworker, implementer, manager or process_owner.")],
    district: Annotated[str | None, typer.Option(help="A caseworker's or a district manager's district, e.g. farsta.")] = None,
    subject: Annotated[str, typer.Option(help="Who the token is for (a user id, never a client).")] = "dev",
    hours: Annotated[float, typer.Option(help="Valid for this many hours (at most BRYTUPP_MAX_TOKEN_HOURS).")] = 12,
) -> None:
    """Mint a local bearer token signed with the service's key (for development and tests).
    A manager's token without --district is city-wide (socialförvaltningen)."""
    if role == Role.caseworker and district is None:
        err.print("a caseworker's token needs --district", markup=False)
        raise typer.Exit(2)
    out.print(mint(_settings(), subject, role, district, hours), markup=False)


@app.command()
def revoke(
    subject: Annotated[str, typer.Option(help="The user id whose tokens are taken back (the token's 'sub').")],
    by: Annotated[str, typer.Option(help="Who revokes (an administrator's user id), for the record.")] = "admin",
    database_url: Annotated[str | None, typer.Option(help="Default: DATABASE_URL.")] = None,
) -> None:
    """Revoke every token of a user issued until now, on every instance at once (a lost laptop, a leaver)."""
    from .db import make_engine, migrate
    from .revocation import Revocations

    settings = _settings()
    engine = make_engine(database_url or settings.database_url)
    try:
        migrate(engine)
        Revocations(engine).revoke_subject(subject, by, settings.max_token_hours)
    finally:
        engine.dispose()
    err.print(f"revoked: every token of that subject issued until now (for {settings.max_token_hours:g} h)", markup=False)


@app.command()
def publish(
    by: Annotated[str, typer.Option(help="Who publishes (a user id, or the deploy job's name), for the record.")],
    paths: Annotated[list[Path] | None, typer.Argument(help="Default: BRYTUPP_PROCESSES (processes local_overrides).")] = None,
    database_url: Annotated[str | None, typer.Option(help="Default: DATABASE_URL.")] = None,
) -> None:
    """Validate the process files and make each district's version the current one in the database,
    for a new installation or a district new to it.  A district already in force changes only through
    review (``brytupp draft``): its file is left alone and named.  With any finding nothing is published."""
    from .db import make_engine
    from .registry import Registry
    from .versions import VersionStore

    settings = _settings()
    chosen = paths or settings.processes
    files = Registry(chosen)
    files.reload()
    findings = [*files.snapshot.problems, *(f for state in files.snapshot.districts.values() for f in state.findings)]
    if findings or not files.snapshot.districts:
        for finding in findings:
            err.print(str(finding), markup=False)
        why = "the files have problems" if findings else "no district files"
        err.print(f"nothing published: {why}", markup=False)
        raise typer.Exit(1)
    engine = make_engine(database_url or settings.database_url)
    try:
        store = VersionStore(engine, timezone=settings.timezone)
        current = store.current()
        new, reviewed = [], []
        for district, state in files.snapshot.districts.items():
            assert state.compiled is not None
            row = current.get(district)
            if row is None:
                new.append(district)
            elif row.version != state.compiled.version:
                reviewed.append(district)
        published = store.publish(files.sources(new), by) if new else []
    finally:
        engine.dispose()
    err.print(f"published: {', '.join(published)}" if published else "published: nothing new", markup=False)
    for district in reviewed:
        err.print(
            f"{district}: in force with another version; a change goes through review: brytupp draft {district} FILE",
            markup=False,
        )


@app.command()
def draft(
    district: Annotated[str, typer.Argument(help="The district, e.g. farsta (or central for the central process).")],
    file: Annotated[Path, typer.Argument(help="The process file, as it is to be.", exists=True, dir_okay=False)],
    url: Annotated[str, typer.Option(envvar="BRYTUPP_URL", help="The service, e.g. https://bryt-upp.example.se.")],
    token: Annotated[
        str, typer.Option(envvar="BRYTUPP_TOKEN", help="A process owner's token (role implementer with the district).")
    ],
    propose: Annotated[bool, typer.Option(help="Propose it for approval at once, if it has no findings.")] = False,
    note: Annotated[str | None, typer.Option(help="The proposal's note: what changes and why.")] = None,
) -> None:
    """Submit a process file as a draft for review (from a terminal or a repository's CI): prints the
    findings and the preview's address; exit 1 when the draft has findings, 2 when it was refused."""
    import json
    import urllib.error
    import urllib.request

    base = url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def call(method: str, path: str, body: bytes, kind: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            base + path, data=body, method=method, headers={**headers, "Content-Type": kind, **(extra or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                result: dict[str, Any] = json.loads(answer.read())
                return result
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read() or b"{}").get("detail", exc.reason)
            except (ValueError, AttributeError):  # a proxy's HTML page, say
                detail = exc.reason
            err.print(f"refused ({exc.code}): {detail if isinstance(detail, str) else json.dumps(detail)}", markup=False)
            raise typer.Exit(2) from None
        except urllib.error.URLError as exc:
            err.print(f"cannot reach {base}: {exc.reason}", markup=False)
            raise typer.Exit(2) from None

    stored = call("POST", f"/processes/{district}/drafts", file.read_bytes(), "application/yaml")
    for finding in stored["findings"]:
        out.print(finding, markup=False)
    out.print(f"draft {stored['id']}: {base}/ui/drafts/{district}/{stored['id']}", markup=False)
    if stored["findings"]:
        err.print(f"{len(stored['findings'])} finding(s): the draft is stored but cannot be proposed", markup=False)
        raise typer.Exit(1)
    if propose:
        body = json.dumps({"note": note}).encode()
        path = f"/processes/{district}/drafts/{stored['id']}/propose"
        call("POST", path, body, "application/json", {"If-Match": stored["etag"]})
        out.print("proposed: the city's process owner decides on it", markup=False)


@app.command()
def migrate(
    database_url: Annotated[
        str | None, typer.Option(help="Default: BRYTUPP_MIGRATE_DATABASE_URL, else DATABASE_URL; the server, not PgBouncer.")
    ] = None,
) -> None:
    """Bring the schema to this release's newest migration: the deploy job's step, before the instances
    (which wait, not ready, when BRYTUPP_MIGRATE_ON_START is off).  Safe to run beside them: on
    PostgreSQL under an advisory lock, so whoever comes second finds the schema current."""
    from .db import migrate as upgrade
    from .db import migration_engine, schema_at_head

    settings = _settings()
    if database_url is not None:
        settings = settings.model_copy(update={"migrate_database_url": database_url})
    engine = migration_engine(settings)
    try:
        if schema_at_head(engine):
            err.print("schema already at head", markup=False)
            return
        upgrade(engine)
    finally:
        engine.dispose()
    err.print("schema migrated to head", markup=False)


@app.command("demo-cases")
def demo_cases(
    database_url: Annotated[str | None, typer.Option(help="Default: DATABASE_URL, else SQLite in var/.")] = None,
) -> None:
    """Register a few demo clients (pseudonymous) through the API, unless they are there already."""
    from .demo import load_demo

    settings = _settings()
    if database_url is not None:
        settings = settings.model_copy(update={"database_url": database_url})
    created = load_demo(settings)
    err.print(f"demo cases: {created} registered" if created else "demo cases: already there", markup=False)


@app.command()
def goals(
    year: Annotated[int | None, typer.Option(help="One year (default: this year).")] = None,
    years: Annotated[str | None, typer.Option(help="A span of years, e.g. 2023-2025.")] = None,
    district: Annotated[str | None, typer.Option(help="One district (default: all, and the city).")] = None,
    database_url: Annotated[str | None, typer.Option(help="Default: DATABASE_URL, else SQLite in var/.")] = None,
    format: Annotated[str, typer.Option(help="table, json or csv.")] = "table",
) -> None:
    """The five effect goals per district and for the city (api/goals/definitions.py has the definitions)."""
    import datetime as dt

    from .goals import report_for, rich_tables, year_range

    settings = _settings()
    try:
        chosen = year_range(years) if years else [year or dt.date.today().year]
        report = report_for(database_url or settings.database_url, settings.processes, chosen, district, settings.goals)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    if format == "json":
        out.print(report.model_dump_json(indent=2), markup=False)
    elif format == "csv":
        out.print(report.to_csv(), markup=False, end="")
    else:
        for table in rich_tables(report):
            out.print(table)
        for goal in report.goals:
            out.print(f"{goal.goal}. {goal.label}: {goal.measure}", markup=False)


@app.command("demo-data")
def demo_data(
    cases: Annotated[int, typer.Option(min=1, help="How many cases (re-actualisations included).")] = 200,
    years: Annotated[str, typer.Option(help="The years the cases open in, e.g. 2023-2025.")] = "2023-2025",
    seed: Annotated[int, typer.Option(min=0, help="The same seed gives the same data set.")] = 1,
    database_url: Annotated[str | None, typer.Option(help="Default: DATABASE_URL, else SQLite in var/.")] = None,
) -> None:
    """A synthetic data set for the effect goals (made-up clients), through the API's own code; once per seed."""
    from .demo_data import load_demo_data
    from .goals import year_range

    settings = _settings()
    if database_url is not None:
        settings = settings.model_copy(update={"database_url": database_url})
    try:
        loaded = load_demo_data(settings, cases, year_range(years), seed)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    if loaded.skipped:
        err.print(f"demo data: seed {seed} already there", markup=False)
    else:
        err.print(
            f"demo data: {loaded.cases} cases, {loaded.events} events, {loaded.routines} unit routines in {loaded.seconds:.1f} s",
            markup=False,
        )


@app.command()
def refresh(
    database_url: Annotated[str | None, typer.Option(help="Default: DATABASE_URL, else SQLite in var/.")] = None,
) -> None:
    """The daily job: decide every open case for today and store its open steps (the worklists read
    them).  Idempotent, and safe to run on every instance at once (api/worklist.py)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from .db import make_engine, schema_at_head
    from .worklist import refresh as refresh_steps

    settings = _settings()
    engine = make_engine(database_url or settings.database_url)
    try:
        if not schema_at_head(engine):
            err.print("the database is not at this release's schema: run brytupp migrate first", markup=False)
            raise typer.Exit(2)
        done = refresh_steps(engine, dt.datetime.now(ZoneInfo(settings.timezone)).date())
    finally:
        engine.dispose()
    out.print(f"refreshed the open steps of {done.cases} open cases; {done.problems} could not be decided", markup=False)
    if done.problems:
        raise typer.Exit(1)


@app.command()
def verify(
    database_url: Annotated[str | None, typer.Option(help="Default: DATABASE_URL, else SQLite in var/.")] = None,
) -> None:
    """Fold every case's log again and compare with what is stored with the case (the fold, the open
    steps): the log is the truth.  Reads only; exit 1 naming each case that differs (by id)."""
    from .db import make_engine
    from .worklist import verify as verify_cases

    settings = _settings()
    engine = make_engine(database_url or settings.database_url)
    try:
        done = verify_cases(engine)
    finally:
        engine.dispose()
    for case_id, what in done.differences:
        out.print(f"{case_id}: {what}", markup=False)
    out.print(f"verified {done.cases} cases: {len(done.differences)} differ from their logs", markup=False)
    if done.differences:
        raise typer.Exit(1)


@app.command()
def purge(
    by: Annotated[str, typer.Option(help="Your operator id, for the audit trail (never a name).")],
    closed_before: Annotated[
        str | None, typer.Option(help="Purge cases closed before this day, YYYY-MM-DD (default: BRYTUPP_RETENTION_YEARS ago).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count the cases that would go.")] = False,
    database_url: Annotated[str | None, typer.Option(help="Default: DATABASE_URL, else SQLite in var/.")] = None,
) -> None:
    """Retention (gallring): erase closed cases and their events once the retention period is over
    (api/retention.py); each leaves one 'purged' audit row."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from .db import make_engine, migrate
    from .retention import purge_closed, retention_cutoff

    settings = _settings()
    try:
        today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
        if closed_before is None:
            day = retention_cutoff(today, settings.retention_years)
        else:
            try:
                day = dt.date.fromisoformat(closed_before)
            except ValueError:
                raise ValueError("--closed-before: a day, YYYY-MM-DD") from None
            if day > today:
                raise ValueError("--closed-before: not a day in the future")
        engine = make_engine(database_url or settings.database_url)
        try:
            migrate(engine)
            result = purge_closed(engine, day, by, dry_run=dry_run)
        finally:
            engine.dispose()
    except ValueError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    verb = "would purge" if result.dry_run else "purged"
    out.print(f"{verb} {result.cases} closed cases ({result.events} events), closed before {day}", markup=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
