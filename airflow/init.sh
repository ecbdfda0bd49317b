#!/usr/bin/env bash
# One-shot Airflow bootstrap (the airflow-init service): migrate the metadata database and set the
# admin login. Idempotent; every `make up` runs it again, so a password changed in .env applies.
#
# The stack uses Airflow's SimpleAuthManager: users come from
# AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS, passwords from the JSON file named by
# AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE. Writing that file here, from .env, means the
# api-server never generates a password and never prints one to its log.
set -euo pipefail

: "${AIRFLOW_ADMIN_PASSWORD:?AIRFLOW_ADMIN_PASSWORD is not set: run make env}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?}"

# Fails the job (and so the stack) on error, unlike the image entrypoint's _AIRFLOW_DB_MIGRATE.
airflow db migrate

python - <<'PY'
import json
import os

path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
username = os.environ.get("AIRFLOW_ADMIN_USERNAME") or "admin"
os.umask(0o077)  # plain-text passwords: readable by the airflow user only
tmp = f"{path}.tmp"
with open(tmp, "w", encoding="utf-8") as fh:
    json.dump({username: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, fh)
os.replace(tmp, path)
print(f"airflow-init: admin login {username!r} written to {path}")
PY
