"""Run one benchmark on SQLite and on a PostgreSQL server started for it (as the tests do)."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from tests.postgres import PostgresServer

Run = Callable[[str, PostgresServer | None, argparse.Namespace, Path], None]


def on_each_database(run: Run, args: argparse.Namespace) -> None:
    """``run`` per database, each in a fresh temporary folder; ``args.only`` picks one."""
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "postgresql":
            run("sqlite", None, args, Path(tmp))
        if args.only != "sqlite":
            with PostgresServer() as postgres:
                run("postgresql", postgres, args, Path(tmp))
