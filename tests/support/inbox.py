"""An inbox under test: its settings, and reading and writing it as a person (or a misbehaving
client) would."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from fraudops import lake
from fraudops.config import Settings
from fraudops.inbox.storage import LocalStorage, open_storage
from fraudops.validation import REJECTED_SCHEMA, REQUIRED
from tests.support.services import s3_client

HEADER = ",".join(REQUIRED)


def put(settings: Settings, key: str, data: bytes) -> None:
    """Write any object (any name, no checks), e.g. ``incoming/../x.csv`` on S3."""
    store = open_storage(settings)
    try:
        if isinstance(store, LocalStorage):
            path = store.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        else:
            store.client.put_object(Bucket=store.bucket, Key=store._key(key), Body=data)
    finally:
        store.close()


def get(settings: Settings, key: str) -> bytes | None:
    store = open_storage(settings)
    try:
        return store.read_bytes(key)
    finally:
        store.close()


def names(settings: Settings, folder: str) -> list[str]:
    store = open_storage(settings)
    try:
        return sorted(e.name for e in store.list(folder))
    finally:
        store.close()


def csv_table(data: bytes, types: dict[str, pa.DataType] | None = None) -> pa.Table:
    return pacsv.read_csv(
        io.BytesIO(data),
        convert_options=pacsv.ConvertOptions(column_types=types or {}, strings_can_be_null=False),
    )


def scored(settings: Settings, stem: str) -> pa.Table:
    data = get(settings, f"outbox/{stem}.scored.csv")
    assert data is not None, f"outbox/{stem}.scored.csv is missing"
    return csv_table(data, {"transaction_id": pa.string(), "model_version": pa.string()})


def rejected(settings: Settings, stem: str) -> pa.Table:
    data = get(settings, f"outbox/{stem}.rejected.csv")
    assert data is not None, f"outbox/{stem}.rejected.csv is missing"
    return csv_table(data, dict(zip(REJECTED_SCHEMA.names, REJECTED_SCHEMA.types, strict=True)))


def scores(settings: Settings) -> pa.Table:
    """Everything in ``fraud.scores``."""
    return lake.scores_table(lake.open_catalog(settings)).scan().to_arrow()


def predictions(settings: Settings) -> pa.Table:
    """Everything in ``fraud.predictions``."""
    return lake.predictions_table(lake.open_catalog(settings)).scan().to_arrow()


def hash_snapshots(settings: Settings, content_hash: str, *, table_name: str = "scores") -> int:
    """How many snapshots of ``fraud.scores`` (or another table) carry a file's content hash."""
    catalog = lake.open_catalog(settings)
    table = (
        lake.predictions_table(catalog)
        if table_name == "predictions"
        else lake.scores_table(catalog)
    )
    return sum(
        1
        for snap in table.snapshots()
        if snap.summary is not None and snap.summary[lake.CONTENT_HASH_PROPERTY] == content_hash
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reorder(data: bytes, extra: str = "note") -> bytes:
    """The same CSV with its columns reversed and one extra column."""
    table = csv_table(data, {name: pa.string() for name in REQUIRED})
    cols = list(reversed(table.column_names))
    table = table.select(cols).append_column(extra, pa.array(["x"] * table.num_rows))
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


def local_root(settings: Settings) -> Path:
    return Path(settings.inbox_url)


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
