"""``GET /ready``: whether a load balancer should send this instance requests.

Three checks, each named in the answer when it fails, none of them naming anything
but the service's own parts (a district's name at most):

- ``database``: the schema's revision can be read within ``TIMEOUT`` seconds;
- ``migrations``: the schema is at this release's newest migration, or past it
  (``db.schema_at_head``: during a rolling upgrade the older instances still serving
  must not all leave the load balancer when the new release's migrate job has run);
- ``districts``: there is at least one district and every district has a current
  process version (a district without one would answer 422 to every new case).

``/health`` stays the liveness check: it never touches the database, so a database
outage takes instances out of the load balancer without the supervisor restarting them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from .db import schema_at_head

# Below a load balancer's usual probe timeout, so that it gets an answer, not a timeout.
TIMEOUT = 2.0
OK = "ok"


def _database_and_migrations(engine: Engine) -> dict[str, str]:
    try:
        # Reading the schema's revision is the round trip that shows the database answers.
        at_head = schema_at_head(engine)
    except Exception as exc:
        return {"database": f"unreachable ({type(exc).__name__})", "migrations": "unknown"}
    return {"database": OK, "migrations": OK if at_head else "not at this release's head: brytupp migrate has not run"}


def _districts(registry: Any) -> str:
    if registry is None:
        return "not loaded"
    districts = registry.snapshot.districts
    if not districts:
        return "no district"
    missing = sorted(name for name, state in districts.items() if state.compiled is None)
    return f"no current version: {', '.join(missing)}" if missing else OK


async def checks(engine: Engine, registry: Any) -> dict[str, str]:
    """Each check's name and ``ok`` or why it failed."""
    try:
        result = await asyncio.wait_for(run_in_threadpool(_database_and_migrations, engine), TIMEOUT)
    except TimeoutError:
        result = {"database": f"no answer within {TIMEOUT:g} s", "migrations": "unknown"}
    result["districts"] = _districts(registry)
    return result
