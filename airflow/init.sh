#!/usr/bin/env bash
# One-shot Airflow bootstrap (the airflow-init service): migrate the metadata database and the FAB
# auth manager's tables, then make the FAB users match .env (bootstrap_users.py, beside this
# script). Idempotent; every `make up` runs it again, so a password changed in .env applies.
set -euo pipefail

: "${AIRFLOW_ADMIN_PASSWORD:?AIRFLOW_ADMIN_PASSWORD is not set: run make env}"
: "${AIRFLOW_VIEWER_PASSWORD:?AIRFLOW_VIEWER_PASSWORD is not set: run make env}"

# Fails the job (and so the stack) on error, unlike the image entrypoint's _AIRFLOW_DB_MIGRATE.
airflow db migrate
# Users, roles and UI sessions live in FAB's own tables with their own migrations. `db migrate`
# runs them too while FAB is [core] auth_manager; naming them here keeps a provider upgraded with
# the image migrated whatever `db migrate` picks up, for two seconds.
airflow fab-db migrate

python "$(dirname "$0")/bootstrap_users.py"
