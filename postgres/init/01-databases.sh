#!/usr/bin/env bash
# One database and one login role per service: airflow, mlflow, lake (the Iceberg SQL catalog).
#
# The official postgres image runs this once, when the data volume is empty. Passwords come from
# the container environment (.env); psql's :'var' quoting keeps them out of the SQL text. Each
# role owns its database and PUBLIC may not connect to it, so one leaked service password exposes
# one database, not three. Changing a password in .env later does not touch an existing volume:
# ALTER ROLE by hand, or `make clean` to start over.
set -euo pipefail

services=(airflow mlflow lake)

# Check every password before creating anything, so a missing one leaves no half-made cluster.
for svc in "${services[@]}"; do
    var="POSTGRES_${svc^^}_PASSWORD"
    : "${!var:?${var} is not set: run make env}"
done

for svc in "${services[@]}"; do
    var="POSTGRES_${svc^^}_PASSWORD"
    psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        -v name="${svc}" -v password="${!var}" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
    echo "postgres init: role and database '${svc}' created"
done
