# Two commands do everything (README): `make run` and `make test`. Both create the virtual
# environment from the lock files when it is missing or stale.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
SNAKEMAKE_ARGS ?=

.PHONY: run test lint dry-run lock clean help test-slurm

help:
	@echo "make run    - run the whole workflow on the default synthetic configuration"
	@echo "make test   - run the test suite"
	@echo "make lint   - ruff check, ruff format --check, snakefmt --check and snakemake --lint"
	@echo "make test-slurm - start a local one-node SLURM cluster (root) and run the workflow through it"
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

# The SLURM executor end to end on a one-node cluster on this machine (root: installs and starts
# slurmctld, slurmd, munge). The cluster is stopped afterwards unless KEEP_CLUSTER=1, so that a
# later `make test` does not pick it up and run the SLURM test again.
test-slurm: $(VENV)/.dev-installed
	bash tools/slurm/start-local-cluster.sh
	INBURGERING_REQUIRE_SLURM=1 $(BIN)/python -m pytest -m slurm tests/slurm $(PYTEST_ARGS); \
	  status=$$?; \
	  if [ "$(KEEP_CLUSTER)" != 1 ]; then bash tools/slurm/stop-local-cluster.sh; fi; \
	  exit $$status

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

dry-run: $(VENV)/.run-installed
	$(BIN)/snakemake --dry-run --cores $(CORES) $(SNAKEMAKE_ARGS)

# Monte Carlo validation (docs/reliability.md): the workflow over many synthetic seeds, then
# bias, RMSE and coverage per estimand in results/montecarlo/ (monte_carlo.csv, summary.md).
MC_SEEDS ?= 50
MC_PERSONS ?= 4000
MC_SHOCK_SCALES ?=   # e.g. 0,1,2: every seed with the city shocks x0, x1, x2 (default: as configured)
.PHONY: montecarlo
montecarlo: $(VENV)/.run-installed
	$(BIN)/python -m inburgering.validation --seeds $(MC_SEEDS) --persons $(MC_PERSONS) \
	  --out results/montecarlo --jobs $(CORES) \
	  $(if $(strip $(MC_SHOCK_SCALES)),--shock-scale $(strip $(MC_SHOCK_SCALES)))

lock:
	PYTHON=$(PYTHON) bash tools/lock.sh

clean:
	rm -rf results .snakemake
