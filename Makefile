# The README's commands. `make run` and `make test` each do all set-up first (scripts/setup.sh).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup run test lint audit format bench faults clean

setup:
	@bash scripts/setup.sh

run: setup
	$(VENV)/bin/tickwatch up

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy tickwatch pipeline monitor alerts bench tools tests
	$(VENV)/bin/lint-imports
	$(PY) -m tickwatch.dep_audit

# strict: also fails when the vulnerability data could not be fetched for every package
audit: setup
	$(PY) -m tickwatch.dep_audit --require-data

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench $(BENCH_ARGS)

# The fault matrix on its own local stack (README "Reliability"); FAULTS_ARGS="--quick",
# "--only load-kill9-x10,poison", "--seed 3".
faults: setup
	$(PY) -m bench.faults $(FAULTS_ARGS)

clean:
	-$(VENV)/bin/tickwatch stack down
	rm -rf .tickwatch .mypy_cache .ruff_cache .pytest_cache
