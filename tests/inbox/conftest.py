"""Inbox fixtures: a fresh inbox and lake per use, on a local folder or on moto's S3."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from fraudops.config import Settings


def inbox_settings(
    trained: Settings,
    tmp: Path,
    backend: str,
    s3: dict[str, str] | None = None,
    *,
    warehouse_on_s3: bool = True,
) -> Settings:
    """The trained home's registry, with its own inbox and its own lake (``fraud.scores``).

    On S3 the inbox (and the lake's warehouse, unless told otherwise) live in a new bucket
    of moto's server.
    """
    update: dict[str, object] = {
        "catalog_uri": f"sqlite:///{tmp / 'catalog.db'}",
        "warehouse": (tmp / "warehouse").as_uri(),
        "inbox_chunk_rows": 1_000,
    }
    if backend == "local":
        update["inbox"] = str(tmp / "inbox")
    else:
        from tests.services import s3_client

        assert s3 is not None
        bucket = f"inbox-{uuid.uuid4().hex[:12]}"
        s3_client(s3).create_bucket(Bucket=bucket)
        update.update(
            inbox=f"s3://{bucket}/inbox",
            s3_endpoint=s3["endpoint"],
            s3_access_key=s3["access_key"],
            s3_secret_key=s3["secret_key"],
            s3_region=s3["region"],
        )
        if warehouse_on_s3:
            update["warehouse"] = f"s3://{bucket}/warehouse"
    tmp.mkdir(parents=True, exist_ok=True)
    return trained.model_copy(update=update)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.integration)])
def fresh_inbox(
    request: pytest.FixtureRequest, trained_settings: Settings, tmp_path: Path
) -> Settings:
    """An empty inbox and lake beside the trained registry, on each backend."""
    s3 = request.getfixturevalue("s3") if request.param == "s3" else None
    return inbox_settings(trained_settings, tmp_path / "inbox-home", request.param, s3)
