"""The one scoring path: API, CLI, batch inbox, DAGs and the pyfunc all score through here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from fraudops.features import build_features, columns_from_records, columns_from_table

if TYPE_CHECKING:
    from fraudops.model import FraudScorer

SCORED_SCHEMA = pa.schema(
    [
        pa.field("transaction_id", pa.string(), nullable=False),
        pa.field("fraud_probability", pa.float64(), nullable=False),
        pa.field("is_fraud", pa.bool_(), nullable=False),
    ]
)


def score_columns(
    scorer: FraudScorer, cols: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(probability, decision at the model's threshold) for numeric input columns."""
    proba = scorer.predict_proba(build_features(cols)).astype(np.float64)
    return proba, proba >= scorer.threshold


def score_table(scorer: FraudScorer, table: pa.Table | Any) -> tuple[np.ndarray, np.ndarray]:
    """Score an Arrow table or pandas frame of transactions (validated)."""
    return score_columns(scorer, columns_from_table(table))


def score_records(
    scorer: FraudScorer, records: Sequence[Mapping[str, Any]]
) -> tuple[np.ndarray, np.ndarray]:
    """Score validated records without pandas (the API's hot path)."""
    return score_columns(scorer, columns_from_records(records))


def scored_table(scorer: FraudScorer, table: pa.Table) -> pa.Table:
    """transaction_id, fraud_probability, is_fraud for a validated Arrow table."""
    proba, flag = score_table(scorer, table)
    return pa.Table.from_arrays(
        [table["transaction_id"], pa.array(proba), pa.array(flag)], schema=SCORED_SCHEMA
    )
