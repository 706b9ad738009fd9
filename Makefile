# She-Ra: one command per chore. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help setup system venv test lint typecheck layers unit demo bench clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}'

setup: system venv ## Install system packages (as root, when missing), create .venv, install She-Ra with test extras

system:
	@scripts/setup-system

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

lint: setup ## ruff (lint + format check)
	$(BIN)/ruff check shera tests bench scripts
	$(BIN)/ruff format --check shera tests bench scripts

typecheck: setup ## mypy --strict on shera/
	$(BIN)/mypy

layers: setup ## import-linter layer contracts
	$(BIN)/lint-imports

unit: setup ## pytest only
	@rm -rf .tmp/pytest && mkdir -p .tmp
	$(BIN)/pytest --basetemp=$(CURDIR)/.tmp/pytest

test: setup lint typecheck layers unit ## Everything CI checks: ruff, mypy --strict, import-linter, pytest

demo: setup ## Run the example pipelines with `shera exec`
	@scripts/demo

bench: setup ## Benchmarks: executor overhead per step, lint throughput over the corpus
	$(PY) -m bench

clean: ## Remove the venv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
