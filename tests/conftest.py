"""Fixtures built from small YAML snippets written under tmp_path."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from engine import CompiledProcess, compile_process, load_override, load_process, merge_override

# The tests turn on the development conveniences explicitly (a local key file, SQLite under var/);
# the tests of the production refusals set the environment themselves.
os.environ["BRYTUPP_ENVIRONMENT"] = "development"

ROOT = Path(__file__).resolve().parent.parent
MINI_PATH = ROOT / "tests" / "invalid" / "central" / "mini.yaml"
MINI = MINI_PATH.read_text(encoding="utf-8")

OVERRIDE = """\
district: testby
label: Testby stadsdelsförvaltning
extends: mini
rvc: rvc_test
units:
  mottagningen: {label: Mottagningen}
  rvt_testby: {label: Relationsvåldsteamet}
  rvc_test: {label: RVC Test, kind: rvc}
roles:
  intake: mottagningen
  rvt: rvt_testby
"""

Writer = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """``write(text, name="x.yaml")`` -> the path of a file holding ``text``."""

    def _write(text: str, name: str = "process.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def district(write: Writer) -> Callable[[str], CompiledProcess]:
    """Merge an override snippet (appended to the minimal override) onto the mini process."""

    def _district(extra: str = "", base: str = OVERRIDE, central: str = MINI) -> CompiledProcess:
        central_doc = load_process(write(central, "mini.yaml"))
        override = load_override(write(base + extra, "testby.yaml"))
        return compile_process(merge_override(central_doc, override))

    return _district


@pytest.fixture
def central(write: Writer) -> Callable[[str], CompiledProcess]:
    def _central(text: str = MINI) -> CompiledProcess:
        return compile_process(merge_override(load_process(write(text, "mini.yaml"))))

    return _central


# --- the case service ------------------------------------------------------------------
# Every API test runs on both databases; PostgreSQL is a real server the tests start
# (tests/postgres.py) and a missing PostgreSQL fails the run.


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    from tests.postgres import PostgresServer

    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    from tests.service import fresh_database

    url = request.getfixturevalue("postgres").url if request.param == "postgresql" else None
    return fresh_database(request.param, tmp_path, url)


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[object]:
    from tests.service import Service, copy_processes, settings_for

    with Service(settings_for(database_url, copy_processes(tmp_path))) as svc:
        yield svc


def wrong_in_threads(answer: Callable[[int], object], expected: Sequence[object], runs: int, threads: int = 8) -> list[str]:
    """``threads`` threads each ask ``answer(i)`` ``runs`` times, cycling through the cases from
    offsets of their own, all at once: the answers that differ from ``expected[i]``."""
    errors: list[str] = []

    def work(seed: int) -> None:
        for n in range(runs):
            i = (seed * 7 + n) % len(expected)
            if answer(i) != expected[i]:
                errors.append(f"thread {seed} run {n}: case {i} answered wrong")

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return errors
