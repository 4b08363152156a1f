# Two entry points for a fresh machine with python3 >= 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint ui sim

# Kalshi's official SDK (the wire contract the tests check the simulator against) declares
# Python >= 3.13, but its models import on 3.11: it is installed on its own, ignoring that.
KALSHI_SDK := kalshi-python-sync==3.34.0

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --ignore-requires-python '$(KALSHI_SDK)'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/flb demo

test: $(STAMP)
	$(BIN)/ruff check flb_pipeline flb_pipeline_tests benchmarks
	$(BIN)/ruff format --check flb_pipeline flb_pipeline_tests benchmarks
	$(BIN)/dagster definitions validate -w workspace.yaml
	$(BIN)/pytest -q -n 2

ui: $(STAMP)
	$(BIN)/flb ui

sim: $(STAMP)
	$(BIN)/flb sim
