# FraudOps — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= api,airflow,spark,monitoring,dev
ARGS ?=
PYTEST_ARGS ?=
COMPOSE ?= docker compose
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv lock system-deps demo test test-fast bench chaos lint hooks serve airflow env up down logs smoke clean clean-home

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# --compile-bytecode: every service the tests, bench and chaos start imports MLflow; without
# .pyc files (uv writes none, and PYTHONDONTWRITEBYTECODE stops Python from caching them) each
# start compiles it again, about twice the time. Likewise a new embedded MLflow store: made once
# here by MLflow's migrations (fraudops.tracking.make_store_template), copied by every new home.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --constraint requirements.lock --compile-bytecode -e '.[$(EXTRAS)]'
	$(BIN)/python -m fraudops.tracking >/dev/null  # the new MLflow store embedded homes copy
	@touch $(STAMP)

venv: $(STAMP) ## Create the virtualenv and install everything (once)

# A fresh virtualenv resolves pyproject.toml with today's pins as constraints: new packages get
# pinned, pinned ones stay as they are (edit or delete a line to move it).
lock: ## Re-pin requirements.lock after a dependency change in pyproject.toml
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet uv
	.lock-venv/bin/uv pip install --python .lock-venv/bin/python --constraint requirements.lock -e '.[$(EXTRAS)]'
	{ echo "# Pinned versions of every dependency (make lock); used as constraints by make venv."; \
	  .lock-venv/bin/uv pip freeze --python .lock-venv/bin/python --exclude-editable | LC_ALL=C sort -f; } > requirements.lock
	rm -rf .lock-venv

system-deps: ## Install the Debian packages the tests need (PostgreSQL, Redis, Prometheus, its Pushgateway, curl)
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing=" postgresql"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-pushgateway >/dev/null || missing="$$missing prometheus-pushgateway"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: $(STAMP) ## Run the whole lifecycle on embedded defaults (SQLite + local folders)
	$(BIN)/fraudops demo $(ARGS)

test: $(STAMP) system-deps ## Run the test suite (starts its own PostgreSQL, mlflow server, moto S3)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## Unit tests only (no services)
	$(BIN)/python -m pytest -m "not integration and not slow" $(PYTEST_ARGS)

bench: $(STAMP) ## Run the benchmarks under bench/ and print the figures
	$(BIN)/python -m bench $(ARGS)

chaos: $(STAMP) system-deps ## Inject faults into real services; table of lost/duplicated/errors (ARGS=--quick)
	$(BIN)/python -m chaos $(ARGS)

LINTED := src tests bench chaos airflow scripts

lint: $(STAMP) ## ruff (with Airflow's AIR rules), ruff format, mypy --strict
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

hooks: $(STAMP) ## Install the git pre-commit hook (the same checks as make lint)
	$(BIN)/pre-commit install

serve: $(STAMP) ## Serve the scoring API on the production model (docs at http://127.0.0.1:8000/docs)
	$(BIN)/fraudops serve $(ARGS)

airflow: $(STAMP) ## Run Airflow locally with the FraudOps DAGs (UI on http://127.0.0.1:8080)
	$(BIN)/fraudops airflow $(ARGS)

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
	echo "Airflow  http://$$BIND_ADDRESS:$$AIRFLOW_PORT        $$AIRFLOW_ADMIN_USERNAME / $$AIRFLOW_ADMIN_PASSWORD (read-only: $$AIRFLOW_VIEWER_USERNAME / $$AIRFLOW_VIEWER_PASSWORD)"; \
	echo "MLflow   http://$$BIND_ADDRESS:$$MLFLOW_PORT        $$MLFLOW_ADMIN_USERNAME / $$MLFLOW_ADMIN_PASSWORD"; \
	echo "API      http://$$BIND_ADDRESS:$$API_PORT/docs   X-API-Key: $${API_KEYS%%,*}"; \
	echo "MinIO    http://$$BIND_ADDRESS:$$MINIO_CONSOLE_PORT        $$MINIO_ROOT_USER / $$MINIO_ROOT_PASSWORD"; \
	echo "Grafana  http://$$BIND_ADDRESS:$$GRAFANA_PORT        $$GRAFANA_ADMIN_USERNAME / $$GRAFANA_ADMIN_PASSWORD (dashboard FraudOps)"; \
	echo "Prometheus http://$$BIND_ADDRESS:$$PROMETHEUS_PORT    Pushgateway http://$$BIND_ADDRESS:$$PUSHGATEWAY_PORT"

down: ## Stop the stack (keeps the volumes)
	$(COMPOSE) down

logs: ## Follow the stack's logs (SERVICE=name for one)
	$(COMPOSE) logs --follow --tail=200 $(SERVICE)

# Runs inside the airflow-scheduler container: the stack keeps MinIO's S3 API on its own network,
# and that image has the package, boto3 and curl. Logins come from .env, passed by name only.
smoke: ## Check the running stack end to end: bootstrap DAG, /predict, a CSV through the inbox
	@[ -f .env ] || { echo "no .env: run make up first" >&2; exit 1; }
	@set -a; . ./.env; set +a; \
	$(COMPOSE) exec -T \
		-e SMOKE_AIRFLOW_URL=http://airflow-apiserver:8080 -e SMOKE_API_URL=http://api:8000 \
		-e AIRFLOW_ADMIN_USERNAME -e AIRFLOW_ADMIN_PASSWORD -e API_KEYS \
		-e INBOX_UPLOAD_ACCESS_KEY -e INBOX_UPLOAD_SECRET_KEY \
		airflow-scheduler python - $(ARGS) < scripts/smoke.py

clean: ## Stop the stack and DELETE its volumes, after a prompt (YES=1 skips it)
	@[ "$(YES)" = 1 ] || { read -r -p "Delete every FraudOps volume (lake, MLflow, Airflow, databases)? [y/N] " a; [ "$$a" = y ]; }
	$(COMPOSE) down --volumes --remove-orphans
