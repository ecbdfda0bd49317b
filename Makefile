# FraudOps — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= api,airflow,spark,dev
ARGS ?=
PYTEST_ARGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv system-deps demo test test-fast bench lint env up down logs clean-home

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --constraint requirements.lock -e '.[$(EXTRAS)]'
	@touch $(STAMP)

venv: $(STAMP) ## Create the virtualenv and install everything (once)

system-deps: ## Install the Debian packages the tests need (PostgreSQL server, Java)
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then \
		echo "installing postgresql"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

demo: $(STAMP) ## Run the whole lifecycle on embedded defaults (SQLite + local folders)
	$(BIN)/fraudops demo $(ARGS)

test: $(STAMP) system-deps ## Run the test suite (starts its own PostgreSQL, mlflow server, moto S3)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## Unit tests only (no services)
	$(BIN)/python -m pytest -m "not integration and not slow" $(PYTEST_ARGS)

bench: $(STAMP) ## Run the benchmarks under bench/ and print the figures
	$(BIN)/python -m bench $(ARGS)

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

clean-home: ## Remove the embedded state (.fraudops): lake, MLflow store, inbox
	rm -rf .fraudops
