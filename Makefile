# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run stop test system-packages lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# A stamp per requirements file: a second run installs nothing unless the pins changed.
$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

# `exec`: the launcher is make's own child, so the SIGTERM make passes on reaches it; for SIGINT and
# SIGHUP, which make does not pass on, it watches make (scripts/run.py). V=1 prints the full logs.
run: $(VENV)/.runtime-installed
	@exec $(BIN)/python scripts/run.py $(if $(filter-out 0,$(V)),--verbose)

# Stops a `make run` of this checkout from another terminal.
stop:
	@if [ -x $(BIN)/python ]; then exec $(BIN)/python scripts/run.py stop; else echo "Paystatus is not running."; fi

# Chromium (and Redis) come from Debian, not from pip: installed here when allowed, else the command to run.
system-packages:
	@bash scripts/system-packages.sh

test: system-packages $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
