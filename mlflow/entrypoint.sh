#!/bin/sh
# Writes MLflow's basic-auth config from the environment, makes sure the service users exist with
# the passwords from .env, then runs `mlflow server` with the container's arguments.
#
# MLflow reads the auth config from the ini file named by MLFLOW_AUTH_CONFIG_PATH. The admin
# credentials are not written to it: MLflow 3 reads MLFLOW_AUTH_ADMIN_USERNAME and
# MLFLOW_AUTH_ADMIN_PASSWORD from the environment, and ships no default password.
set -eu

: "${MLFLOW_BACKEND_STORE_URI:?MLFLOW_BACKEND_STORE_URI is not set}"
: "${MLFLOW_AUTH_ADMIN_PASSWORD:?MLFLOW_AUTH_ADMIN_PASSWORD is not set: run make env}"

# The user store lives in the same PostgreSQL database as the tracking store (own tables and
# alembic version table), unless told otherwise.
auth_db="${MLFLOW_AUTH_DATABASE_URI:-${MLFLOW_BACKEND_STORE_URI}}"

MLFLOW_AUTH_CONFIG_PATH="${MLFLOW_AUTH_CONFIG_PATH:-${HOME}/basic_auth.ini}"
export MLFLOW_AUTH_CONFIG_PATH

# The file holds the database password: readable by this user only.
umask 077
cat >"${MLFLOW_AUTH_CONFIG_PATH}" <<INI
[mlflow]
# Any signed-in user may read every experiment and model; writing needs ownership or a grant.
default_permission = READ
database_uri = ${auth_db}
admin_username = ${MLFLOW_AUTH_ADMIN_USERNAME:-admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI

python "$(dirname "$0")/bootstrap_users.py"

exec mlflow server "$@"
