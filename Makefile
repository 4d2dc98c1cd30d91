# salesnb — `make report` publishes the reports, `make test` runs the tests.
# Both create .venv first when it is missing or older than pyproject.toml.

.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := data/demo/truth.json

PERIOD ?=
BASE ?=
OUT ?=
FORCE ?=
TO ?=
DRY_RUN ?=
# Each value goes to the command as one shell word, taken as written: single-quoted (a quote
# inside becomes '\''), never expanded by make ($(value ...)), so PERIOD='1999-13; touch x'
# is a period the command refuses, not a second command.
unexport PERIOD BASE OUT TO  # exporting would let make expand them for the environment
quote = '$(subst ','\'',$(value $(1)))'
REPORT_ARGS := $(if $(value PERIOD),--period $(call quote,PERIOD)) $(if $(value BASE),--base $(call quote,BASE)) $(if $(value OUT),--out $(call quote,OUT)) $(if $(FORCE),--force)
DELIVER_ARGS := $(if $(value PERIOD),--period $(call quote,PERIOD)) $(if $(value BASE),--base $(call quote,BASE)) $(if $(value TO),--to $(call quote,TO)) $(if $(DRY_RUN),--dry-run)

.PHONY: help report deliver test lab data lint clean bench bench-report calibrate

help: ## show this help
	@echo "salesnb — sales KPI reports from notebooks"
	@echo
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'
	@echo
	@echo "  Options: PERIOD=2026-10 (one period, any form), FORCE=1 (run every page),"
	@echo "           BASE=params/examples/superstore.yaml, OUT=outputs/x,"
	@echo "           TO=a@b.c,d@e.f and DRY_RUN=1 (make deliver; SMTP settings from the environment or .env)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing salesnb and its dependencies into $(VENV) ..."
	@$(BIN)/python -m pip install --quiet --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet --quiet -e '.[dev]'
	@touch $(STAMP)

$(DEMO): $(STAMP) salesnb/data/demo.py
	$(BIN)/salesnb data data/demo

data: $(STAMP) ## regenerate the demo data in data/demo/
	$(BIN)/salesnb data data/demo

report: $(STAMP) $(DEMO) ## run the notebooks and publish outputs/<period>/*.html and outputs/index.html
	$(BIN)/salesnb report $(REPORT_ARGS)

deliver: $(STAMP) ## e-mail a published period (default: the newest that has ended) with its pages and kpis.xlsx
	$(BIN)/salesnb deliver $(DELIVER_ARGS)

test: $(STAMP) ## run every test (builds the demo data when needed)
	$(BIN)/python -m pytest

lab: $(STAMP) ## open JupyterLab on notebooks/ (outputs are stripped on commit by nbstripout)
	@$(BIN)/nbstripout --install 2>/dev/null || echo "not a git checkout: notebook outputs are not stripped on commit"
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP) ## ruff, mypy and the import contracts of DESIGN.md (import-linter)
	$(BIN)/ruff check salesnb tests
	$(BIN)/mypy
	$(BIN)/lint-imports

clean: ## remove generated outputs, demo data and caches (keeps .venv and bench/data)
	rm -rf outputs/*/ outputs/index.html outputs/manifest.json data/demo .cache .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +

bench: $(STAMP) $(DEMO) ## benchmark the engines on 10M and 100M orders (bench/data*/), the store, a Spark cluster, the Outlook page
	$(BIN)/python bench/make_data.py
	$(BIN)/python bench/bench_kpis.py
	$(BIN)/python bench/bench_pages.py
	$(BIN)/python bench/bench_crossover.py
	$(BIN)/python bench/bench_store.py
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_cluster.py
	$(BIN)/python bench/bench_outlook.py
	$(BIN)/python bench/bench_shapes.py

calibrate: $(STAMP) ## false-alarm rates and power of every test on realistic and resampled real nulls (TRIALS=500)
	$(BIN)/python bench/calibrate.py

bench-report: $(STAMP) $(DEMO) ## time make report: cold, against papermill + nbconvert one by one, and unchanged
	$(BIN)/python bench/bench_report.py
