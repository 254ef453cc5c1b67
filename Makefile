# fedmarket — set-up is idempotent: stamps record what is installed, re-runs are no-ops.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
PYTEST_ARGS ?=

.PHONY: help setup demo test test-python test-contracts lint slither typecheck artifacts clean
# Slither lives in a virtualenv of its own: its releases pin web3 below the version we use.
SLITHER_VENV := .venv-slither
SLITHER_VERSION := 0.11.6

help:
	@echo "make demo   set up, then run the end-to-end demo (devnet, task, participants, audit)"
	@echo "make test   set up, then run every test: forge tests and pytest on a real Anvil"
	@echo "make lint   ruff, mypy, the import rules (import-linter) and Slither on the contracts"

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

lint: setup slither
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

$(STAMPS)/slither: | $(STAMPS)
	test -x $(SLITHER_VENV)/bin/python || $(PY) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/python -m pip install --quiet "slither-analyzer==$(SLITHER_VERSION)" "crytic-compile==0.4.2"
	touch $@

# Static analysis of the contracts, fed the build's own Standard JSON input and solc-js.
# Fails on any finding of low impact or more that is not fixed or justified at its line.
slither: setup $(STAMPS)/slither
	$(BIN)/python -m marketplace.chain.compile --standard-json $(STAMPS)/slither-input.json
	$(SLITHER_VENV)/bin/slither $(STAMPS)/slither-input.json --solc tools/solc-js.cjs \
		--compile-force-framework solc-json --filter-paths node_modules \
		--exclude-informational --exclude-optimization --fail-low

artifacts: setup
	$(BIN)/python -m marketplace.chain.compile --write

clean:
	rm -rf $(STAMPS) $(VENV) $(SLITHER_VENV) node_modules contracts/out contracts/cache
