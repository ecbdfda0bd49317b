"""The Iceberg catalog and the tables' schemas: the only place that opens them."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import CommitFailedException

# Table.append streams only into unpartitioned tables in pyiceberg 0.12 (iceberg-python#2152):
# append_once writes data files batch by batch with its helper (pinned < 0.13)
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform
from pyiceberg.types import (
    BooleanType,
    DateType,
    DoubleType,
    IcebergType,
    IntegerType,
    LongType,
    NestedField,
    StringType,
    TimestamptzType,
)

from fraudops.cardhistory.definition import HISTORY_FEATURES
from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.schema import LABEL, LABEL_EVENT_COLUMNS, LOGGED_KEY, TRANSACTION_COLUMNS, Column

NAMESPACE = "fraud"
TRANSACTIONS = f"{NAMESPACE}.transactions"
LABELS = f"{NAMESPACE}.labels"
PREDICTIONS = f"{NAMESPACE}.predictions"
MODEL_HEALTH = f"{NAMESPACE}.model_health"
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


TRANSACTIONS_SCHEMA = iceberg_schema(TRANSACTION_COLUMNS)
LABELS_SCHEMA = iceberg_schema(LABEL_EVENT_COLUMNS)


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


PARQUET_CODEC = "write.parquet.compression-codec"
PARQUET_DICT_BYTES = "write.parquet.dict-size-bytes"
# Every table keeps a dictionary only for its few-valued columns (channel, category, model,
# file): a many-valued one (ids, timestamps, amounts) would fill a dictionary up to
# pyiceberg's 2 MiB default before the writer drops it, for nothing. The codec stays zstd,
# pyiceberg's default, except on ``fraud.predictions``.
WRITE_PROPERTIES = {PARQUET_DICT_BYTES: str(64 * 1024)}


def _day_partitioned(
    catalog: Catalog, name: str, schema: Schema, column: str, properties: dict[str, str]
) -> Table:
    """A v2 table partitioned by day of ``column``, created if missing; ``properties`` set."""
    catalog.create_namespace_if_not_exists(NAMESPACE)
    spec = PartitionSpec(
        PartitionField(
            source_id=schema.find_field(column).field_id,
            field_id=1000,
            transform=DayTransform(),
            name=f"{column.removesuffix('_ts').removesuffix('_at')}_day",
        )
    )
    table = catalog.create_table_if_not_exists(
        name, schema=schema, partition_spec=spec, properties={"format-version": "2", **properties}
    )
    if any(table.properties.get(k) != v for k, v in properties.items()):
        try:  # a lake from before these settings
            with table.transaction() as tx:
                tx.set_properties(properties)
        except CommitFailedException:  # another process changed the table first
            table.refresh()
    return table


def transactions_table(catalog: Catalog) -> Table:
    """The ``fraud.transactions`` table, created (partitioned by day of ``event_ts``) if missing."""
    table = _day_partitioned(
        catalog, TRANSACTIONS, TRANSACTIONS_SCHEMA, "event_ts", WRITE_PROPERTIES
    )
    if LABEL.name in table.schema().column_names:
        # a lake from before labels became events: the label leaves the transactions
        with table.update_schema() as update:
            update.delete_column(LABEL.name)
    return table


def labels_table(catalog: Catalog) -> Table:
    """The ``fraud.labels`` table of label events, partitioned by day of ``reported_at``."""
    return _day_partitioned(catalog, LABELS, LABELS_SCHEMA, "reported_at", WRITE_PROPERTIES)


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
    return _day_partitioned(catalog, SCORES, SCORES_SCHEMA, "scored_at", WRITE_PROPERTIES)


_N = len(TRANSACTION_COLUMNS)
PREDICTIONS_SCHEMA = Schema(
    # production's rows hold every input; a shadow's only LOGGED_KEY (the rest: production's)
    *(
        f if f.name in LOGGED_KEY else NestedField(f.field_id, f.name, f.field_type, False, f.doc)
        for f in iceberg_schema(TRANSACTION_COLUMNS).fields
    ),
    NestedField(_N + 1, "fraud_probability", DoubleType(), required=True),
    NestedField(_N + 2, "is_fraud", BooleanType(), required=True, doc="Decision at the threshold."),
    NestedField(_N + 3, "model_name", StringType(), required=True),
    NestedField(_N + 4, "model_version", StringType(), required=True),
    NestedField(_N + 5, "predicted_at", TimestamptzType(), required=True),
    NestedField(_N + 6, "source", StringType(), required=True, doc="api, api-csv, inbox, replay."),
    *(
        NestedField(_N + 7 + i, name, DoubleType(), required=False, doc="Card-history feature.")
        for i, name in enumerate(HISTORY_FEATURES)
    ),
    NestedField(
        _N + 7 + len(HISTORY_FEATURES),
        "role",
        StringType(),
        required=False,
        doc="production (answered) or shadow (scored beside it, not answered); null: production.",
    ),
)
ROLE = "role"
_OPTIONAL = frozenset(f.name for f in PREDICTIONS_SCHEMA.fields if not f.required)


# written all day by every API worker and with every inbox file: snappy costs half of zstd's
# CPU per row; with the dictionary limit, a 1M-row file is written with 0.4x the CPU.
# Each API commit adds a small manifest: merged once there are 20, the manifest list a
# commit rewrites stays short, and with ``appends.forget_own`` the metadata too: over 300
# commits of 20,000 rows a commit's CPU grows 1.1-1.2x, against 4-4.6x for plain appends
# (``make bench ARGS=predlog``). pyiceberg deep-copies the metadata a dozen times a commit:
# a metadata log of 10 earlier files, not 100, makes a commit on a table with a history a
# seventh cheaper (51 vs 59 ms; old metadata files stay: the API's key deletes nothing)
PREDICTIONS_PROPERTIES = {
    **WRITE_PROPERTIES,
    PARQUET_CODEC: "snappy",
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "20",
    "write.metadata.previous-versions-max": "10",
}


def predictions_table(catalog: Catalog) -> Table:
    """``fraud.predictions``: everything scored, with its inputs (partitioned by event day)."""
    table = _day_partitioned(
        catalog, PREDICTIONS, PREDICTIONS_SCHEMA, "event_ts", PREDICTIONS_PROPERTIES
    )
    if ROLE not in table.schema().column_names:
        # a lake from before the card-history features or the role: they join as optional
        with table.update_schema() as update:
            update.union_by_name(PREDICTIONS_SCHEMA)
    loose = [f.name for f in table.schema().fields if f.required and f.name in _OPTIONAL]
    if loose:  # a lake from before the shadow's rows held only LOGGED_KEY
        try:
            with table.update_schema() as update:
                for name in loose:
                    update.make_column_optional(name)
        except CommitFailedException:  # another process changed the table first
            table.refresh()
    return table


MODEL_HEALTH_SCHEMA = Schema(
    NestedField(1, "checked_at", TimestamptzType(), required=True),
    NestedField(2, "window_from", DateType(), required=True, doc="First event day checked."),
    NestedField(3, "window_to", DateType(), required=True, doc="Last event day checked."),
    NestedField(4, "model_name", StringType(), required=True),
    NestedField(5, "model_version", StringType(), required=True),
    NestedField(
        6, "status", StringType(), required=True, doc="healthy, drifting, decayed or unknown."
    ),
    NestedField(7, "reasons", StringType(), required=True),
    NestedField(8, "rows", LongType(), required=True, doc="Predictions in the drift window."),
    NestedField(9, "score_psi", DoubleType(), required=False),
    NestedField(10, "max_feature_psi", DoubleType(), required=False),
    NestedField(11, "drifting_features", StringType(), required=True),
    NestedField(12, "matured_rows", LongType(), required=True),
    NestedField(13, "matured_ap", DoubleType(), required=False),
    NestedField(14, "holdout_ap", DoubleType(), required=False),
    NestedField(15, "matured_recall_at_budget", DoubleType(), required=False),
    NestedField(16, "holdout_recall_at_budget", DoubleType(), required=False),
    NestedField(17, "label_coverage", DoubleType(), required=False),
    NestedField(18, "run_id", StringType(), required=True, doc="The check's MLflow run."),
)


def model_health_table(catalog: Catalog) -> Table:
    """``fraud.model_health``: one row per monitoring check (unpartitioned: small)."""
    catalog.create_namespace_if_not_exists(NAMESPACE)
    return catalog.create_table_if_not_exists(
        MODEL_HEALTH, schema=MODEL_HEALTH_SCHEMA, properties={"format-version": "2"}
    )


def arrow_schema_of(table: Table | Schema) -> pa.Schema:
    """A table's Arrow schema with plain strings (pyiceberg gives large ones).

    Every writer casts to this, so reads give back ``string`` columns that join and compare
    with the rest of the package's tables.
    """
    schema = table.schema().as_arrow() if isinstance(table, Table) else table.as_arrow()
    return pa.schema(
        [f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f for f in schema]
    )


def plain_strings(data: pa.Table) -> pa.Table:
    """``data`` with large string columns as plain ones (a read may give either)."""
    if not any(pa.types.is_large_string(f.type) for f in data.schema):
        return data
    return data.cast(
        pa.schema(
            [
                f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f
                for f in data.schema
            ]
        )
    )
