# Two entry points for a fresh machine with python3 >= 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint ui sim

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
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
