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
COMPOSE ?= docker compose
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv system-deps demo test test-fast bench lint env up down logs clean clean-home

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --constraint requirements.lock -e '.[$(EXTRAS)]'
	@touch $(STAMP)

venv: $(STAMP) ## Create the virtualenv and install everything (once)

system-deps: ## Install the Debian packages the tests need (the PostgreSQL server)
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

# --- the Compose stack (needs a Docker engine) ------------------------------------------------

env: ## Write .env with fresh secrets (keeps an existing one)
	@if [ -f .env ]; then echo ".env exists, keeping it ($(PYTHON) scripts/make_env.py --force replaces every secret)"; else $(PYTHON) scripts/make_env.py; fi

up: ## Build and start the stack on 127.0.0.1, wait until healthy, print URLs and logins
	@[ -f .env ] || $(PYTHON) scripts/make_env.py
	$(COMPOSE) build
	$(COMPOSE) up -d --wait --wait-timeout 900
	@set -a; . ./.env; set +a; \
	echo "Airflow  http://$$BIND_ADDRESS:$$AIRFLOW_PORT        $$AIRFLOW_ADMIN_USERNAME / $$AIRFLOW_ADMIN_PASSWORD"; \
	echo "MLflow   http://$$BIND_ADDRESS:$$MLFLOW_PORT        $$MLFLOW_ADMIN_USERNAME / $$MLFLOW_ADMIN_PASSWORD"; \
	echo "API      http://$$BIND_ADDRESS:$$API_PORT/docs   X-API-Key: $${API_KEYS%%,*}"; \
	echo "MinIO    http://$$BIND_ADDRESS:$$MINIO_CONSOLE_PORT        $$MINIO_ROOT_USER / $$MINIO_ROOT_PASSWORD"

down: ## Stop the stack (keeps the volumes)
	$(COMPOSE) down

logs: ## Follow the stack's logs (SERVICE=name for one)
	$(COMPOSE) logs --follow --tail=200 $(SERVICE)

clean: ## Stop the stack and DELETE its volumes, after a prompt (YES=1 skips it)
	@[ "$(YES)" = 1 ] || { read -r -p "Delete every FraudOps volume (lake, MLflow, Airflow, databases)? [y/N] " a; [ "$$a" = y ]; }
	$(COMPOSE) down --volumes --remove-orphans
