"""deploy/: the systemd units pass `systemd-analyze verify` (and its offline security review), the
container recipe passes hadolint, and the environment file's example is settings the service reads.
No image is built here (no container registry is reachable), so the recipe is checked as text too."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = ("brytupp.service", "brytupp-migrate.service", "brytupp-refresh.service")
TIMERS = ("brytupp-refresh.timer",)
INSTALLED = "/opt/brytupp/venv/bin/brytupp"
BRYTUPP = Path(sys.executable).parent / "brytupp"


def tool(name: str) -> str:
    """A tool from the test venv (hadolint's wheel) or the system (Debian's systemd)."""
    found = shutil.which(name, path=f"{Path(sys.executable).parent}:/usr/bin:/bin")
    assert found is not None, f"{name} is installed by `make test` (pyproject's dev extras or the Makefile)"
    return found


@pytest.fixture
def units(tmp_path: Path) -> Path:
    """The units as they are, but for the command's path: verify requires ExecStart's program to
    exist, so it points at this venv's brytupp, which takes the same arguments."""
    assert BRYTUPP.exists()
    for name in (*UNITS, *TIMERS):
        (tmp_path / name).write_text((DEPLOY / name).read_text().replace(INSTALLED, str(BRYTUPP)))
    return tmp_path


def unit_options(name: str) -> dict[str, list[str]]:
    options: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            options.setdefault(key, []).append(value)
    return options


def test_units_pass_systemd_analyze_verify(units: Path) -> None:
    result = subprocess.run(
        [tool("systemd-analyze"), "verify", "--man=no", *(str(units / n) for n in (*UNITS, *TIMERS))],
        capture_output=True,
        text=True,
        cwd=units,
    )
    # verify exits 0 on an unknown key or a bad value and only warns: any output is a failure.
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_verify_would_catch_a_misspelt_option(units: Path) -> None:
    unit = units / "brytupp.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict"))
    result = subprocess.run([tool("systemd-analyze"), "verify", "--man=no", str(unit)], capture_output=True, text=True)
    assert "Unknown key 'ProtectSytem'" in result.stderr


@pytest.mark.parametrize("name", UNITS)
def test_units_are_hardened(units: Path, name: str) -> None:
    # The offline review scores exposure from 0 (locked down) to 10; the threshold is in tenths.
    result = subprocess.run(
        [tool("systemd-analyze"), "security", "--offline=yes", "--threshold=20", "--no-pager", str(units / name)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert re.search(r"Overall exposure level for \S+: [01]\.\d", result.stdout), result.stdout[-500:]


def test_the_service_runs_after_the_migrate_job() -> None:
    service, job = unit_options("brytupp.service"), unit_options("brytupp-migrate.service")
    assert "brytupp-migrate.service" in service["Requires"][0] and "brytupp-migrate.service" in service["After"][0]
    assert service["ExecStart"] == [f"{INSTALLED} serve"] and job["ExecStart"] == [f"{INSTALLED} migrate"]
    assert job["Type"] == ["oneshot"]
    assert "BRYTUPP_MIGRATE_ON_START=false" in service["Environment"][0]
    for options in (service, job):
        assert options["EnvironmentFile"] == ["/etc/brytupp/brytupp.env"]
        assert options["DynamicUser"] == options["NoNewPrivileges"] == options["PrivateTmp"] == ["yes"]
        assert options["ProtectSystem"] == ["strict"]
    # Both commands the units run exist with these arguments.
    for command in (["serve", "--help"], ["migrate", "--help"]):
        assert CliRunner().invoke(cli, command).exit_code == 0, command


def test_the_environment_example_is_what_the_service_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    example = (DEPLOY / "brytupp.env.example").read_text()
    values = dict(re.findall(r"^#?(BRYTUPP_\w+)=(.*)$", example, re.MULTILINE))
    fields = {f"BRYTUPP_{name.upper()}" for name in Settings.model_fields}
    assert set(values) <= fields, set(values) - fields
    for name, value in re.findall(r"^(BRYTUPP_\w+)=(.*)$", example, re.MULTILINE):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BRYTUPP_ENVIRONMENT", "production")
    settings = Settings()
    assert settings.workers == 2 and settings.metrics and settings.processes == [Path("processes"), Path("local_overrides")]


def test_containerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--failure-threshold", "style", "--no-color", str(DEPLOY / "Containerfile")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_containerfile_runs_unprivileged_without_secrets_and_checks_readiness() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert all(line.startswith("FROM python:3.11-slim-bookworm") for line in instructions if line.startswith("FROM "))
    assert "apt-get install -y --no-install-recommends graphviz" in text
    [user] = [line for line in instructions if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in ("root", "0")
    assert instructions.index(user) > max(i for i, line in enumerate(instructions) if line.startswith("RUN "))
    assert not re.search(r"JWT_KEY|DATABASE_URL|PASSWORD|SECRET", text.split("ENV ", 1)[1])
    assert not any(line.startswith("ARG ") for line in instructions)
    assert "/ready" in text.split("HEALTHCHECK", 1)[1]
    assert 'exec brytupp serve --host 0.0.0.0 --workers \\"${WORKERS}\\"' in text
