# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
LOCK := .ci/constraints.txt
BENCH_MENTIONS ?= 1000000
SOAK_MINUTES ?= 15
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test test-fast lint typecheck bench soak lock clean help

help:
	@echo "make run    set up .venv, prepare the demo store and open the console on :$(PORT)"
	@echo "make test   set up .venv with dev extras and run the whole test suite"
	@echo "make test-fast  the suite without the slow and browser tests"
	@echo "make bench  build (once, cached) the $(BENCH_MENTIONS)-mention stores and run every benchmark in bench/"
	@echo "make soak   two workers, 1M mentions/day and faults for $(SOAK_MINUTES) min on a throwaway PostgreSQL (bench/soak.py)"
	@echo "make lock   re-resolve the dependencies from current releases into $(LOCK)"
	@echo "make lint / typecheck / clean"

# Installs take the versions CI tested from the lock; `make lock` upgrades them.
$(VENV)/.installed: pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml $(LOCK)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	@touch $@

run: $(VENV)/.installed
	$(BIN)/mentiondesk demo --port $(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not slow and not browser"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/vulture

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy
	$(BIN)/mypy .ci/vulture_whitelist.py

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run_all.py --mentions $(BENCH_MENTIONS)

# Not part of `make test`: minutes of load with faults. The long test: MENTIONDESK_SOAK=1 pytest -m soak tests/test_soak.py
soak: $(VENV)/.installed-dev
	$(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES)

# The newest releases pyproject.toml's ranges allow, installed into a throwaway venv and frozen (torch without
# its +cpu label, so the lock holds on PyPI too; mentiondesk itself left out).
lock:
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip install --quiet -e '.[dev]'; \
	{ echo "# The versions CI tests on: make run / make test install with -c $(LOCK). Written by make lock"; \
	  echo "# ($$("$$tmp/venv/bin/python" -V), $$(date -u +%F)); to upgrade, edit pyproject.toml and run make lock."; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable --exclude mentiondesk \
	    | sed -E 's/^(torch==[^+]+)\+.*/\1/'; } > "$$tmp/lock"; \
	mv "$$tmp/lock" $(LOCK); echo "$(LOCK): $$(grep -vc '^#' $(LOCK)) pinned packages"

clean:
	rm -rf $(VENV) .mentiondesk .pytest_cache .mypy_cache .ruff_cache
