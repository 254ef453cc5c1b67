# fedmarket — set-up is idempotent: stamps record what is installed, re-runs are no-ops.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
PYTEST_ARGS ?=

.PHONY: help setup demo test test-python test-contracts lint typecheck artifacts clean

help:
	@echo "make demo   set up, then run the end-to-end demo (devnet, task, participants, audit)"
	@echo "make test   set up, then run every test: forge tests and pytest on a real Anvil"
	@echo "make lint   ruff, mypy and the import rules (import-linter)"

$(STAMPS):
	mkdir -p $(STAMPS)

$(STAMPS)/venv: pyproject.toml constraints.txt | $(STAMPS)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,flower]'
	touch $@

$(STAMPS)/node: package.json package-lock.json | $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMPS)/venv $(STAMPS)/node

demo: setup
	$(BIN)/fedmarket demo

test: setup test-contracts test-python

test-contracts: setup
	cd contracts && ../node_modules/.bin/forge test --offline

test-python: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

artifacts: setup
	$(BIN)/python -m marketplace.chain.compile --write

clean:
	rm -rf $(STAMPS) $(VENV) node_modules contracts/out contracts/cache
