"""Scoring on Spark: an inbox file's valid rows, a group of cards per task, on executors.

Rows are partitioned by ``card_id``, so each task holds every row of its cards: it reads those
cards' history from the lake at the claim's pinned snapshot, computes the card-history
features with the offline executor (:func:`fraudops.cardhistory.enrich`) and scores them with
the production booster, broadcast once, through :func:`fraudops.scoring.scored_table`: the
package's own code, on Arrow batches (``mapInArrow``). The driver puts the results back in the
file's row order; the inbox then stages, publishes and commits them as it does in-process.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import pyarrow as pa

from fraudops import lake
from fraudops.cardhistory import EVENT_COLUMNS, HISTORY_FEATURES, enrich, sources
from fraudops.config import Settings
from fraudops.schema import arrow_schema
from fraudops.scoring import FraudScorer, scored_table
from fraudops.spark.session import spark_session

if TYPE_CHECKING:
    from pyspark import Broadcast

    from fraudops.inbox.scorefile import RemoteScoring

TASK_ROWS = 500_000  # rows of a file one task scores at most (its cards' rows, their history)
ROW = "_row"  # the row's place in the file: results come back in any order
RESULT_SCHEMA = pa.schema(
    [
        pa.field(ROW, pa.int64()),
        *(pa.field(name, pa.float64()) for name in HISTORY_FEATURES),
        pa.field("fraud_probability", pa.float64()),
        pa.field("is_fraud", pa.bool_()),
    ]
)
Model = tuple[str, bytes, float]  # (a key of this broadcast, the booster, the threshold)
_SCORERS: dict[str, FraudScorer] = {}  # per Python worker: a broadcast model is built once


def _scorer(model: Broadcast[Model]) -> FraudScorer:
    key, raw, threshold = model.value
    if key not in _SCORERS:
        _SCORERS[key] = FraudScorer.from_raw(raw, threshold)
    return _SCORERS[key]


def score_cards(
    batches: Iterator[pa.RecordBatch],
    *,
    model: Broadcast[Model],
    settings: Settings,
    snapshot_id: int | None,
) -> Iterator[pa.RecordBatch]:
    """Every row of a group of cards: history features and scores (runs on an executor)."""
    parts = [pa.Table.from_batches([b]) for b in batches if b.num_rows]
    if not parts:
        return
    rows = pa.concat_tables(parts).cast(pa.schema([*arrow_schema(), pa.field(ROW, pa.int64())]))
    history = sources.from_lake(
        lake.transactions_table(lake.open_catalog(settings)),
        rows.select(list(EVENT_COLUMNS)),
        snapshot_id=snapshot_id,
    )
    features = enrich(rows.select(list(EVENT_COLUMNS)), history).select(list(HISTORY_FEATURES))
    for name, values in zip(HISTORY_FEATURES, features.columns, strict=True):
        rows = rows.append_column(name, values)
    scored = scored_table(_scorer(model), rows)
    out = pa.Table.from_arrays(
        [rows[ROW], *features.columns, scored["fraud_probability"], scored["is_fraud"]],
        schema=RESULT_SCHEMA,
    )
    yield from out.to_batches()


def spark_scoring(
    settings: Settings, scorer: FraudScorer, *, snapshot_id: int | None
) -> RemoteScoring:
    """A file's scoring on Spark (see :data:`fraudops.inbox.scorefile.RemoteScoring`)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    spark = spark_session(settings, app="fraudops-score")
    model = spark.sparkContext.broadcast((uuid.uuid4().hex, scorer.raw(), scorer.threshold))
    task = partial(score_cards, model=model, settings=settings, snapshot_id=snapshot_id)

    def score(valid: pa.Table) -> pa.Table:
        if valid.num_rows == 0:
            return RESULT_SCHEMA.empty_table().drop_columns([ROW])
        numbered = valid.append_column(ROW, pa.array(range(valid.num_rows), pa.int64()))
        frame = spark.createDataFrame(numbered)
        # every core busy, and no task holding more than TASK_ROWS (an executor's memory)
        parts = max(spark.sparkContext.defaultParallelism, -(-valid.num_rows // TASK_ROWS))
        result = (
            frame.repartition(parts, "card_id")
            .mapInArrow(task, from_arrow_schema(RESULT_SCHEMA))
            .toArrow()
        )
        return result.cast(RESULT_SCHEMA).sort_by(ROW).drop_columns([ROW])

    return score
