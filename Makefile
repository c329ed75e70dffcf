# Two commands set up a bare machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench schema clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Graphviz renders the process diagrams; Debian's package provides `dot`.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq graphviz; }

# The tests start their own PostgreSQL server from Debian's package (never skipped).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql; }

# tests/api/test_deploy.py runs the service once behind Debian's PgBouncer (transaction mode).
pgbouncer:
	@test -x /usr/sbin/pgbouncer || command -v pgbouncer >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq pgbouncer; }

# The page tests run in Debian's Chromium.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }

# tests/api/test_deploy_files.py checks deploy/'s units with systemd-analyze (Debian's systemd; no running systemd needed).
systemd:
	@command -v systemd-analyze >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq systemd; }

.PHONY: graphviz postgresql pgbouncer chromium systemd

# The service on SQLite (var/brytupp.sqlite) with the Stockholm process and demo cases.  Development
# conveniences (that SQLite file, a key made under var/) are explicit: production refuses to start without
# a database URL and a key.
run: export BRYTUPP_ENVIRONMENT = development
run: $(STAMP) graphviz
	$(BIN)/brytupp validate processes local_overrides
	$(BIN)/brytupp demo-cases
	$(BIN)/brytupp demo-data --cases 200 --years 2023-2025 --seed 1
	@echo "Caseworker token (Farsta):"
	@$(BIN)/brytupp token --role caseworker --district farsta --subject demo-handlaggare
	@echo "Manager token:"
	@$(BIN)/brytupp token --role manager --subject demo-chef
	$(BIN)/brytupp serve

test: $(STAMP) graphviz postgresql pgbouncer chromium systemd
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(STAMP) graphviz postgresql
	@command -v wrk >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk; }
	$(BIN)/python bench/compile.py
	$(BIN)/python bench/decide.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/goals.py

schema: $(STAMP)
	$(BIN)/brytupp schema --write processes/process.schema.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
