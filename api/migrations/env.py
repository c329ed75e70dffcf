"""Alembic environment: the service passes its own connection (see api/db.py:migrate)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import api.models  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through api.db.migrate(engine), which passes the connection")
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
