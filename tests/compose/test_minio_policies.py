"""MinIO's keys and policies, evaluated statically against what each key's user does.

moto accepts any key, so the stack rehearsal cannot prove least privilege: here each JSON policy
of minio/policies/ is evaluated (tests/support/s3policy.py) against the requests its key makes,
prefix by prefix, and minio/init.sh is read for which key gets which policy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.compose import ROOT
from tests.support.s3policy import Policy, allowed, arn, rights

POLICIES = ROOT / "minio" / "policies"
INIT = ROOT / "minio" / "init.sh"
BUCKETS = {"lake", "mlflow", "inbox"}

READ = {"s3:GetObject"}  # GET, HEAD, and the source of a server-side copy
WRITE = {"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}
REMOVE = {"s3:DeleteObject"}
# Every object action a key could hold: whatever a user does not need must be refused.
OBJECT_ACTIONS = (
    READ
    | WRITE
    | REMOVE
    | {
        "s3:GetObjectVersion",
        "s3:DeleteObjectVersion",
        "s3:PutObjectRetention",
        "s3:PutObjectLegalHold",
        "s3:BypassGovernanceRetention",
        "s3:PutObjectTagging",
        "s3:DeleteObjectTagging",
        "s3:DeleteObjectVersionTagging",
    }
)
BUCKET_ACTIONS = {
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
    "s3:PutBucketVersioning",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketObjectLockConfiguration",
    "s3:DeleteBucket",
}

# What the batch job (fraudops.inbox on S3Storage) does to each kind of key of the inbox bucket.
# Moves are copy-then-delete, so only what must leave a prefix may be deleted there.
BATCH_NEEDS = {
    "incoming/day.csv": READ | REMOVE,  # taken: read, copied to claimed/, deleted
    "claimed/day.csv": READ | WRITE | REMOVE,  # moved on to processed/ or quarantine/
    "ledger/claims/day.csv.json": READ | WRITE | REMOVE,  # dropped once the file is done
    ".lock": READ | WRITE | REMOVE,  # the lease: conditional PUTs, deleted on release
    "ledger/content/0a1b2c.json": READ | WRITE,  # what was scored: kept for good
    "outbox/day.scored.csv": READ | WRITE,
    "processed/day.csv": READ | WRITE,
    "quarantine/day.csv": READ | WRITE,
}
# What people do with the upload key: put a CSV into incoming/, nothing else.
UPLOAD_NEEDS = {"incoming/day.csv": WRITE}
OTHER_KEYS = ["incoming", "ledger/x.json", "outbox", "other/day.csv", "day.csv", ".lock2"]

# A policy an administrator might attach as well: the explicit denials must still hold.
EVERYTHING = Policy.parse(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::*"]},
        ],
    }
)


def load(*names: str) -> list[Policy]:
    return [Policy.load(POLICIES / f"{name}.json") for name in names]


def attached() -> dict[str, set[str]]:
    """Access-key variable -> policies minio/init.sh attaches to that user."""
    found: dict[str, set[str]] = {}
    text = INIT.read_text(encoding="utf-8")
    for policy, variable in re.findall(r'^attach fraudops-(\w+) "\$\{(\w+)\}"', text, re.M):
        found.setdefault(variable, set()).add(policy)
    return found


# --- the evaluator itself --------------------------------------------------------------------


def test_evaluator_lets_an_explicit_deny_win_and_matches_iam_wildcards() -> None:
    policy = Policy.parse(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["S3:Get*"], "Resource": ["arn:aws:s3:::b/*"]},
                {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/x?"},
            ],
        }
    )
    assert allowed([policy], "s3:GetObject", arn("b", "deep/er/key"))
    assert allowed([policy], "s3:getobjectversion", arn("b", "x"))
    assert not allowed([policy], "s3:GetObject", arn("b", "x1"))
    assert not allowed([policy, EVERYTHING], "s3:GetObject", arn("b", "x1"))
    assert not allowed([policy], "s3:PutObject", arn("b", "deep"))
    assert not allowed([policy], "s3:GetObject", arn("b"))


def test_evaluator_refuses_what_it_does_not_evaluate() -> None:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    with pytest.raises(ValueError, match="Condition"):
        Policy.parse({"Version": "2012-10-17", "Statement": [{**statement, "Condition": {}}]})
    with pytest.raises(ValueError, match="Version"):
        Policy.parse({"Version": "2008-10-17", "Statement": [statement]})


# --- every policy ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.json")), ids=lambda p: p.name)
def test_policies_are_narrow(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    Policy.parse(document)  # only what the evaluator understands
    for statement in document["Statement"]:
        for action in statement["Action"]:
            # MinIO refuses a policy naming an action it does not know: minio-init would fail.
            assert action in OBJECT_ACTIONS | BUCKET_ACTIONS, f"{path.name}: {action}"
        for resource in statement["Resource"]:
            bucket = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            assert bucket in BUCKETS, f"{path.name}: {resource}"


def test_init_creates_every_policy_and_gives_each_key_its_own() -> None:
    text = INIT.read_text(encoding="utf-8")
    names = {path.stem for path in POLICIES.glob("*.json")}
    loop = re.search(r"^for name in ([\w ]+); do\n\s+mcq admin policy create", text, re.M)
    assert loop and set(loop.group(1).split()) == names
    assert attached() == {
        "MLFLOW_S3_ACCESS_KEY": {"mlflow"},
        "AIRFLOW_S3_ACCESS_KEY": {"lake", "batch"},
        "INBOX_UPLOAD_ACCESS_KEY": {"upload"},
        "API_S3_ACCESS_KEY": {"predictions"},
    }


def test_each_key_reaches_only_its_buckets() -> None:
    def buckets(*names: str) -> set[str]:
        return {
            resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            for policy in load(*names)
            for statement in policy.statements
            if statement.effect == "Allow"
            for resource in statement.resources
        }

    assert buckets("mlflow") == {"mlflow"}
    assert buckets("lake") == {"lake"}
    assert buckets("batch") == {"inbox"}
    assert buckets("upload") == {"inbox"}
    assert buckets("predictions") == {"lake"}


# --- the inbox: versioned, results never removed ---------------------------------------------


def test_init_versions_the_inbox_bucket() -> None:
    # An overwrite or delete then keeps the old version, whatever a key is allowed to do.
    text = INIT.read_text(encoding="utf-8")
    assert re.search(r"^mcq version enable fraudops/inbox\b", text, re.M)


@pytest.mark.parametrize("key", sorted(BATCH_NEEDS), ids=str)
def test_batch_key_does_what_the_inbox_does_and_no_more(key: str) -> None:
    pipeline = load("lake", "batch")
    assert rights(pipeline, OBJECT_ACTIONS, arn("inbox", key)) == BATCH_NEEDS[key]


def test_batch_key_deletes_only_where_the_inbox_moves_things_away() -> None:
    pipeline = load("lake", "batch")
    deletable = {k for k in BATCH_NEEDS if allowed(pipeline, "s3:DeleteObject", arn("inbox", k))}
    assert deletable == {
        "incoming/day.csv",
        "claimed/day.csv",
        "ledger/claims/day.csv.json",
        ".lock",
    }


def test_batch_key_lists_the_inbox_and_changes_nothing_of_the_bucket() -> None:
    pipeline = load("lake", "batch")
    assert rights(pipeline, BUCKET_ACTIONS, arn("inbox")) == {
        "s3:GetBucketLocation",
        "s3:ListBucket",
    }
    for key in OTHER_KEYS:
        assert not rights(pipeline, OBJECT_ACTIONS, arn("inbox", key)), key


def test_batch_key_can_never_remove_versions_or_versioning() -> None:
    # Explicit denials: a broader policy attached to the same key later cannot lift them.
    pipeline = [*load("lake", "batch"), EVERYTHING]
    for key in [*BATCH_NEEDS, *OTHER_KEYS]:
        assert not allowed(pipeline, "s3:DeleteObjectVersion", arn("inbox", key)), key
    for action in ("s3:PutBucketVersioning", "s3:PutLifecycleConfiguration"):
        assert not allowed(pipeline, action, arn("inbox")), action


# --- the upload key --------------------------------------------------------------------------


def test_upload_key_only_puts_into_incoming() -> None:
    upload = load("upload")
    for key in [*BATCH_NEEDS, *OTHER_KEYS]:
        assert rights(upload, OBJECT_ACTIONS, arn("inbox", key)) == UPLOAD_NEEDS.get(key, set())
    assert not rights(upload, BUCKET_ACTIONS, arn("inbox"))
    for bucket in BUCKETS - {"inbox"}:
        assert not rights(upload, OBJECT_ACTIONS, arn(bucket, "incoming/day.csv")), bucket


# --- the API's key: the inference log -------------------------------------------------------

# pyiceberg's table location for fraud.predictions under FRAUDOPS_WAREHOUSE=s3://lake/warehouse
PREDICTIONS = "warehouse/fraud/predictions"
# An append: HEAD/GET of metadata, data files and manifests (multipart uploads), a new metadata
# file; nothing is ever deleted. A HEAD of a missing key lists the bucket with that prefix.
API_NEEDS = {
    f"{PREDICTIONS}/data/event_day=2026-02-01/00000-0-x.parquet": READ | WRITE,
    f"{PREDICTIONS}/metadata/00001-x.metadata.json": READ | WRITE,
    f"{PREDICTIONS}/metadata/snap-1-0-x.avro": READ | WRITE,
}
OTHER_TABLES = [
    "warehouse/fraud/transactions/data/x.parquet",
    "warehouse/fraud/labels/metadata/00001-x.metadata.json",
    "warehouse/fraud/scores/data/x.parquet",
    "warehouse/fraud/model_health/metadata/x.avro",
    "warehouse/fraud/predictions",  # the prefix's own name is not in the table
    "warehouse/fraud/predictions_copy/data/x.parquet",
]


@pytest.mark.parametrize("key", sorted(API_NEEDS), ids=str)
def test_api_key_reads_and_adds_files_of_the_predictions_table(key: str) -> None:
    assert rights(load("predictions"), OBJECT_ACTIONS, arn("lake", key)) == API_NEEDS[key]


def test_api_key_reaches_no_other_table_and_no_other_bucket() -> None:
    api = load("predictions")
    for key in OTHER_TABLES:
        assert not rights(api, OBJECT_ACTIONS, arn("lake", key)), key
    for bucket in BUCKETS - {"lake"}:
        assert not rights(api, OBJECT_ACTIONS, arn(bucket, f"{PREDICTIONS}/x")), bucket
        assert not rights(api, BUCKET_ACTIONS, arn(bucket)), bucket
    assert rights(api, BUCKET_ACTIONS, arn("lake")) == {"s3:GetBucketLocation", "s3:ListBucket"}
