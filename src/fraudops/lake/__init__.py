"""The lake: the only package that opens the Iceberg catalog and its tables.

``fraud.transactions`` is an Apache Iceberg table partitioned by day of ``event_ts``. Writing
days that already exist replaces those partitions (overwrite by filter), so reruns never
duplicate rows; every write is a snapshot and reads can be pinned to a snapshot id.

``fraud.scores`` holds batch-scoring results (one snapshot per scored inbox file, partitioned by
day of ``scored_at``); each snapshot's summary carries the file's content hash, so a rerun can
tell that a file was already committed.
"""

from fraudops.errors import Fenced
from fraudops.lake.appends import (
    CONTENT_HASH_PROPERTY,
    Fence,
    append,
    append_once,
    committed_snapshot,
    forget_own,
    overwrite,
)
from fraudops.lake.catalog import (
    LABELS,
    LABELS_SCHEMA,
    MODEL_HEALTH,
    MODEL_HEALTH_SCHEMA,
    NAMESPACE,
    PREDICTIONS,
    PREDICTIONS_SCHEMA,
    ROLE,
    SCORES,
    SCORES_SCHEMA,
    TRANSACTIONS,
    TRANSACTIONS_SCHEMA,
    arrow_schema_of,
    iceberg_schema,
    labels_table,
    model_health_table,
    open_catalog,
    plain_strings,
    predictions_table,
    scores_table,
    transactions_table,
)
from fraudops.lake.compaction import Compacted, compact, compact_predictions
from fraudops.lake.days import (
    TableStatus,
    days_filter,
    read_labels,
    read_transactions,
    resolve_snapshot,
    snapshot_days,
    table_status,
    write_days,
)
from fraudops.lake.files import job_folder, replace_days, write_parquet
from fraudops.lake.labelled import Pinned, pin, read_labelled

__all__ = [
    "CONTENT_HASH_PROPERTY",
    "LABELS",
    "LABELS_SCHEMA",
    "MODEL_HEALTH",
    "MODEL_HEALTH_SCHEMA",
    "PREDICTIONS",
    "PREDICTIONS_SCHEMA",
    "ROLE",
    "NAMESPACE",
    "SCORES",
    "SCORES_SCHEMA",
    "TRANSACTIONS",
    "TRANSACTIONS_SCHEMA",
    "Fence",
    "Fenced",
    "Compacted",
    "Pinned",
    "TableStatus",
    "append",
    "append_once",
    "arrow_schema_of",
    "committed_snapshot",
    "compact",
    "compact_predictions",
    "days_filter",
    "forget_own",
    "iceberg_schema",
    "job_folder",
    "labels_table",
    "model_health_table",
    "open_catalog",
    "overwrite",
    "predictions_table",
    "pin",
    "plain_strings",
    "read_labelled",
    "read_labels",
    "read_transactions",
    "replace_days",
    "resolve_snapshot",
    "scores_table",
    "snapshot_days",
    "table_status",
    "transactions_table",
    "write_days",
    "write_parquet",
]
