#!/bin/sh
# One-shot MinIO bootstrap (the minio-init service). Idempotent: every `make up` runs it again,
# so a key rotated in .env is applied on the next start.
#
#   buckets   lake    Iceberg warehouse (s3://lake/warehouse)
#             mlflow  MLflow artifacts, written only by the MLflow server (--serve-artifacts)
#             inbox   batch scoring: incoming/ (users drop CSVs), outbox/, processed/, quarantine/;
#                     claimed/, ledger/ and .lock hold the batch job's own state. Versioned: an
#                     overwrite or a delete keeps the old version, and no service key may remove
#                     versions or change versioning (policies/batch.json denies it)
#   keys      mlflow   policies/mlflow.json              read-write on the mlflow bucket
#             airflow  policies/lake.json + batch.json   read-write on lake; batch on inbox
#             upload   policies/upload.json              put into inbox/incoming/, nothing else:
#                                                        for people dropping CSVs (mc, boto3)
#             api      policies/predictions.json         read and add files of the lake table
#                                                        fraud.predictions only (the inference
#                                                        log); no delete, no other table
#
# The API downloads model artifacts through the MLflow server, which proxies them from the
# mlflow bucket, and it authenticates to MLflow with its own read-only user. Airflow logs
# artifacts the same way, so only the MLflow server can touch that bucket.
# S3 has no folders: the inbox prefixes appear with their first object (upload CSVs to
# inbox/incoming/ with the upload key); the batch policy already names them.
set -eu

: "${MINIO_ROOT_USER:?MINIO_ROOT_USER is not set: run make env}"
: "${MINIO_ROOT_PASSWORD:?MINIO_ROOT_PASSWORD is not set: run make env}"
: "${MLFLOW_S3_ACCESS_KEY:?MLFLOW_S3_ACCESS_KEY is not set: run make env}"
: "${MLFLOW_S3_SECRET_KEY:?MLFLOW_S3_SECRET_KEY is not set: run make env}"
: "${AIRFLOW_S3_ACCESS_KEY:?AIRFLOW_S3_ACCESS_KEY is not set: run make env}"
: "${AIRFLOW_S3_SECRET_KEY:?AIRFLOW_S3_SECRET_KEY is not set: run make env}"
: "${INBOX_UPLOAD_ACCESS_KEY:?INBOX_UPLOAD_ACCESS_KEY is not set: run make env}"
: "${INBOX_UPLOAD_SECRET_KEY:?INBOX_UPLOAD_SECRET_KEY is not set: run make env}"
: "${API_S3_ACCESS_KEY:?API_S3_ACCESS_KEY is not set: run make env}"
: "${API_S3_SECRET_KEY:?API_S3_SECRET_KEY is not set: run make env}"

endpoint="${MINIO_ENDPOINT:-http://minio:9000}"
policies="${MINIO_POLICY_DIR:-/etc/fraudops/minio/policies}"

# Keep the root credentials in a throwaway config folder, never in the image or a volume.
config_dir="$(mktemp -d)"
trap 'rm -rf "${config_dir}"' EXIT
mcq() { mc --quiet --no-color --config-dir "${config_dir}" "$@"; }

mcq alias set fraudops "${endpoint}" "${MINIO_ROOT_USER}" "${MINIO_ROOT_PASSWORD}" >/dev/null

for bucket in lake mlflow inbox; do
    mcq mb --ignore-existing "fraudops/${bucket}"
done
# Enabling it again is a no-op, so this stays idempotent.
mcq version enable fraudops/inbox >/dev/null

# `policy create` replaces an existing policy of the same name, so edits to the JSON files apply.
for name in mlflow lake batch upload predictions; do
    mcq admin policy create fraudops "fraudops-${name}" "${policies}/${name}.json"
done

# Attaching a policy that is already attached is an error in MinIO; treat it as done.
attach() {
    if ! out="$(mcq admin policy attach fraudops "$1" --user "$2" 2>&1)"; then
        case "${out}" in
            *"already in effect"*|*"already attached"*) ;;
            *) echo "${out}" >&2; exit 1 ;;
        esac
    fi
}

# `user add` on an existing user resets its secret, so the key pair in .env always wins.
mcq admin user add fraudops "${MLFLOW_S3_ACCESS_KEY}" "${MLFLOW_S3_SECRET_KEY}" >/dev/null
attach fraudops-mlflow "${MLFLOW_S3_ACCESS_KEY}"

mcq admin user add fraudops "${AIRFLOW_S3_ACCESS_KEY}" "${AIRFLOW_S3_SECRET_KEY}" >/dev/null
attach fraudops-lake "${AIRFLOW_S3_ACCESS_KEY}"
attach fraudops-batch "${AIRFLOW_S3_ACCESS_KEY}"

mcq admin user add fraudops "${INBOX_UPLOAD_ACCESS_KEY}" "${INBOX_UPLOAD_SECRET_KEY}" >/dev/null
attach fraudops-upload "${INBOX_UPLOAD_ACCESS_KEY}"

mcq admin user add fraudops "${API_S3_ACCESS_KEY}" "${API_S3_SECRET_KEY}" >/dev/null
attach fraudops-predictions "${API_S3_ACCESS_KEY}"

echo "minio-init: buckets lake, mlflow, inbox (versioned); keys for mlflow, airflow, the api and uploads"
