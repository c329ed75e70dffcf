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

.PHONY: graphviz

# The main job, until the service exists: validate every process file.
run: $(STAMP) graphviz
	$(BIN)/brytupp validate processes local_overrides

test: $(STAMP) graphviz
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/compile.py
	$(BIN)/python bench/decide.py

schema: $(STAMP)
	$(BIN)/brytupp schema --write processes/process.schema.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
