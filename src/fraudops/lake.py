"""The lake: the only module that opens the Iceberg catalog and its tables.

``fraud.transactions`` is an Apache Iceberg table partitioned by day of ``event_ts``. Writing
days that already exist replaces those partitions (overwrite by filter), so reruns never
duplicate rows; every write is a snapshot and reads can be pinned to a snapshot id.

``fraud.scores`` holds batch-scoring results (one snapshot per scored inbox file, partitioned by
day of ``scored_at``); each snapshot's summary carries the file's content hash, so a rerun can
tell that a file was already committed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    GreaterThanOrEqual,
    LessThan,
    Or,
)
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot, ancestors_of
from pyiceberg.transforms import DayTransform
from pyiceberg.types import (
    BooleanType,
    DoubleType,
    IcebergType,
    IntegerType,
    NestedField,
    StringType,
    TimestamptzType,
)

from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.schema import LABEL, TRANSACTION_COLUMNS, Column, arrow_schema

NAMESPACE = "fraud"
TRANSACTIONS = f"{NAMESPACE}.transactions"
SCORES = f"{NAMESPACE}.scores"
CONTENT_HASH_PROPERTY = "fraudops.content_hash"

_ICEBERG_TYPES: dict[str, IcebergType] = {
    "string": StringType(),
    "category": StringType(),
    "timestamp": TimestamptzType(),
    "bool": BooleanType(),
    "float": DoubleType(),
    "int": IntegerType(),
}


def iceberg_schema(columns: Iterable[Column]) -> Schema:
    """An Iceberg schema (required fields, ids from 1) for contract columns."""
    fields = [
        NestedField(i, c.name, _ICEBERG_TYPES[c.kind], required=True, doc=c.description)
        for i, c in enumerate(columns, start=1)
    ]
    return Schema(*fields)


TRANSACTIONS_SCHEMA = iceberg_schema((*TRANSACTION_COLUMNS, LABEL))


def open_catalog(settings: Settings) -> Catalog:
    """Open the Iceberg SQL catalog the settings point at (SQLite or PostgreSQL)."""
    if settings.catalog_url.startswith("sqlite:") or settings.warehouse_url.startswith("file:"):
        settings.ensure_home()
    try:
        return SqlCatalog(
            "fraudops",
            uri=settings.catalog_url,
            warehouse=settings.warehouse_url,
            **settings.s3_options,
        )
    except Exception as exc:  # SQLAlchemy raises many kinds; the user needs one message
        raise FraudOpsError(
            f"cannot open the lake catalog at {settings.catalog_url}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}"
        ) from exc


def _day_partitioned(catalog: Catalog, name: str, schema: Schema, column: str) -> Table:
    """A v2 table partitioned by day of ``column``, created if missing."""
    catalog.create_namespace_if_not_exists(NAMESPACE)
    spec = PartitionSpec(
        PartitionField(
            source_id=schema.find_field(column).field_id,
            field_id=1000,
            transform=DayTransform(),
            name=f"{column.removesuffix('_ts').removesuffix('_at')}_day",
        )
    )
    return catalog.create_table_if_not_exists(
        name, schema=schema, partition_spec=spec, properties={"format-version": "2"}
    )


def transactions_table(catalog: Catalog) -> Table:
    """The ``fraud.transactions`` table, created (partitioned by day of ``event_ts``) if missing."""
    return _day_partitioned(catalog, TRANSACTIONS, TRANSACTIONS_SCHEMA, "event_ts")


SCORES_SCHEMA = Schema(
    NestedField(1, "transaction_id", StringType(), required=True),
    NestedField(2, "fraud_probability", DoubleType(), required=True),
    NestedField(3, "is_fraud", BooleanType(), required=True, doc="Decision at the threshold."),
    NestedField(4, "model_name", StringType(), required=True),
    NestedField(5, "model_version", StringType(), required=True),
    NestedField(6, "source_file", StringType(), required=True, doc="Inbox file name."),
    NestedField(7, "content_hash", StringType(), required=True, doc="SHA-256 of the file."),
    NestedField(8, "scored_at", TimestamptzType(), required=True),
)


def scores_table(catalog: Catalog) -> Table:
    """The ``fraud.scores`` table, created (partitioned by day of ``scored_at``) if missing."""
    return _day_partitioned(catalog, SCORES, SCORES_SCHEMA, "scored_at")


def committed_snapshot(table: Table, content_hash: str) -> int | None:
    """The snapshot (in the current history) whose summary carries ``content_hash``, if any."""
    table.refresh()
    current = table.current_snapshot()
    if current is None:
        return None
    for snap in ancestors_of(current, table.metadata):
        if snap.summary is not None and snap.summary[CONTENT_HASH_PROPERTY] == content_hash:
            return snap.snapshot_id
    return None


def append_scores(
    table: Table, batches: Iterable[pa.Table], *, content_hash: str, properties: dict[str, str]
) -> int:
    """Append score batches as ONE snapshot tagged with ``content_hash``; returns its id.

    Batches are written to data files one at a time (memory stays bounded by a batch) and
    committed together, so a file's rows appear all at once or not at all.
    """
    # Table.append streams only into unpartitioned tables in pyiceberg 0.12
    # (iceberg-python#2152); this is its body with one data-file write per batch.
    from pyiceberg.io.pyarrow import _dataframe_to_data_files

    schema = table.schema().as_arrow()
    summary = {**properties, CONTENT_HASH_PROPERTY: content_hash}
    counter = itertools.count(0)  # unique data file names across batches
    with table.transaction() as tx:
        with tx.update_snapshot(snapshot_properties=summary).fast_append() as append:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                for data_file in _dataframe_to_data_files(
                    table_metadata=tx.table_metadata,
                    write_uuid=append.commit_uuid,
                    df=batch.select(schema.names).cast(schema),
                    io=table.io,
                    counter=counter,
                ):
                    append.append_data_file(data_file)
    snap = table.current_snapshot()
    assert snap is not None
    return snap.snapshot_id


def _ts_literal(day: dt.date) -> str:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).isoformat()


def days_filter(days: Iterable[dt.date]) -> BooleanExpression:
    """A filter selecting whole days of ``event_ts`` (contiguous runs become one range)."""
    ordered = sorted(set(days))
    if not ordered:
        return AlwaysTrue()
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in ordered:
        if ranges and ranges[-1][1] == day:
            ranges[-1] = (ranges[-1][0], day + dt.timedelta(days=1))
        else:
            ranges.append((day, day + dt.timedelta(days=1)))
    exprs: list[BooleanExpression] = [
        And(
            GreaterThanOrEqual("event_ts", _ts_literal(a)),  # type: ignore[call-arg]
            LessThan("event_ts", _ts_literal(b)),  # type: ignore[call-arg]
        )
        for a, b in ranges
    ]
    return reduce(lambda x, y: Or(x, y), exprs)


def write_days(
    table: Table,
    data: pa.Table,
    days: Iterable[dt.date],
    *,
    properties: dict[str, str] | None = None,
) -> int:
    """Replace ``days`` of the table with ``data`` in one snapshot; returns the snapshot id."""
    days = list(days)
    data = data.cast(arrow_schema())
    summary = {"fraudops.days": ",".join(d.isoformat() for d in sorted(days)), **(properties or {})}
    with warnings.catch_warnings():  # first write of a day: "delete did not match any records"
        warnings.simplefilter("ignore", UserWarning)
        table.overwrite(data, overwrite_filter=days_filter(days), snapshot_properties=summary)
    snap = table.current_snapshot()
    assert snap is not None
    return snap.snapshot_id


def read_transactions(
    table: Table,
    *,
    snapshot_id: int | None = None,
    days: Iterable[dt.date] | None = None,
    columns: tuple[str, ...] = ("*",),
) -> pa.Table:
    """Read transactions, optionally pinned to a snapshot (time travel) and limited to days."""
    row_filter = days_filter(days) if days is not None else AlwaysTrue()
    scan = table.scan(row_filter=row_filter, snapshot_id=snapshot_id, selected_fields=columns)
    return scan.to_arrow()


@dataclass(frozen=True)
class TableStatus:
    """What ``status`` reports about a lake table."""

    table: str
    snapshot_id: int | None
    rows: int
    snapshots: int
    location: str


def table_status(table: Table) -> TableStatus:
    """Current snapshot id, row count and snapshot count of a table."""
    snap = table.current_snapshot()
    rows = int(snap.summary.get("total-records") or 0) if snap and snap.summary else 0
    return TableStatus(
        table=".".join(table.name()),
        snapshot_id=snap.snapshot_id if snap else None,
        rows=rows,
        snapshots=len(table.snapshots()),
        location=table.location(),
    )


def resolve_snapshot(table: Table, snapshot_id: int | None = None) -> Snapshot:
    """A snapshot by id, or the current one when ``snapshot_id`` is None.

    Raises:
        FraudOpsError: the table has no snapshot yet, or none with that id.
    """
    if snapshot_id is None:
        snap = table.current_snapshot()
        if snap is None:
            raise FraudOpsError(
                f"{'.'.join(table.name())} is empty: run `fraudops generate` first."
            )
        return snap
    snap = table.snapshot_by_id(snapshot_id)
    if snap is None:
        raise FraudOpsError(f"{'.'.join(table.name())} has no snapshot {snapshot_id}")
    return snap


def snapshot_days(table: Table, snapshot_id: int | None = None) -> list[dt.date]:
    """The distinct days present in the table at a snapshot (none for an empty table)."""
    if snapshot_id is None and table.current_snapshot() is None:
        return []
    snap = resolve_snapshot(table, snapshot_id)
    # read just the timestamp column: cheap and exact
    ts = read_transactions(table, snapshot_id=snap.snapshot_id, columns=("event_ts",))["event_ts"]
    days = pc.unique(pc.cast(ts, pa.date32()))
    return sorted(days.to_pylist())
