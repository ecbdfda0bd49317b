"""The Iceberg catalog and the tables' schemas: the only place that opens them."""

from __future__ import annotations

from collections.abc import Iterable

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog

# Table.append streams only into unpartitioned tables in pyiceberg 0.12 (iceberg-python#2152):
# append_scores writes data files batch by batch with its helper (pinned < 0.13)
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
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
from fraudops.schema import LABEL, TRANSACTION_COLUMNS, Column

NAMESPACE = "fraud"
TRANSACTIONS = f"{NAMESPACE}.transactions"
SCORES = f"{NAMESPACE}.scores"

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
            # a pooled connection dies with a PostgreSQL restart: test it before each use,
            # or the first commit after the restart fails although the server is back
            pool_pre_ping="true",
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
