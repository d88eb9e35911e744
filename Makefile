# Every target works on a fresh machine: it creates .venv and installs pinned dependencies when they are missing.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
# jsii warns on Node 20 (end-of-life); the pinned npm package `node` brings Node 22 without any other download.
export JSII_NODE := $(CURDIR)/node_modules/node/bin/node
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: synth bootstrap deploy test test-fast lint bench deps dev-deps clean

$(VENV)/.deps: requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.dev-deps: $(VENV)/.deps requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(CHECKOV_VENV)/.deps: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

node_modules/.deps: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps: $(VENV)/.deps node_modules/.deps
dev-deps: $(VENV)/.dev-deps $(CHECKOV_VENV)/.deps node_modules/.deps

## synth: synthesize the bundled example app (no AWS account needed) into cdk.out
synth: deps
	npx cdk synth --quiet --context config=$(or $(CONFIG),examples/inferentia.yaml)
	@echo "Stacks written to cdk.out:"; ls -1 cdk.out/*.template.json

## bootstrap: once per account and region, with your AWS credentials (the stacks ship Lambda code and layers)
bootstrap: deps
	npx cdk bootstrap --context config=$(or $(CONFIG),examples/inferentia.yaml)

## deploy: deploy both stacks with your AWS credentials
deploy: deps
	npx cdk deploy --all --context config=$(or $(CONFIG),examples/inferentia.yaml)

## test: the lint below, then the whole pytest suite (gates included)
test: lint
	$(PY) -m pytest -q

## test-fast: the tests that start no CDK app (marked in tests/conftest.py), for a quick loop while you work
test-fast: dev-deps
	$(PY) -m pytest -q -m "not synth"

## lint: ruff, mypy and the import contracts (the layering in pyproject.toml's [tool.importlinter])
lint: dev-deps
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy inferentia_cdk app.py
	$(VENV)/bin/lint-imports pyproject.toml --no-cache

## bench: synth time and memory against plain aws-cdk-lib (see bench/)
bench: dev-deps
	$(PY) bench/synth_bench.py

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
