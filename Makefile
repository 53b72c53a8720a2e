# Two commands do everything (README): `make run` and `make test`. Both create the virtual
# environment from the lock files when it is missing or stale.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
SNAKEMAKE_ARGS ?=

.PHONY: run test lint dry-run lock clean help

help:
	@echo "make run    - run the whole workflow on the default synthetic configuration"
	@echo "make test   - run the test suite"
	@echo "make lint   - ruff, snakefmt --check and snakemake --lint"
	@echo "make lock   - refresh requirements*.lock and environment.yml from pyproject.toml"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $@

$(VENV)/.dev-installed: requirements-dev.lock pyproject.toml $(VENV)/.run-installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	$(BIN)/python -m pip check
	touch $@

run: $(VENV)/.run-installed
	$(BIN)/snakemake --profile workflow/profiles/default --cores $(CORES) $(SNAKEMAKE_ARGS)
	@echo "Reports are in results/reports/ (open results/reports/main.html)."

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

dry-run: $(VENV)/.run-installed
	$(BIN)/snakemake --dry-run --cores $(CORES) $(SNAKEMAKE_ARGS)

lock:
	PYTHON=$(PYTHON) bash tools/lock.sh

clean:
	rm -rf results .snakemake
