"""The scorer and the one scoring path: API, CLI, batch inbox, DAGs and the pyfunc score here.

A :class:`FraudScorer` is a trained booster and its decision threshold, saved as the native
XGBoost file plus a small JSON document: loading one never unpickles anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from fraudops.cardhistory.definition import VERSION as HISTORY_VERSION
from fraudops.features import (
    FEATURE_NAMES,
    FEATURE_TYPES,
    build_features,
    columns_from_records,
    columns_from_table,
    columns_from_values,
)

if TYPE_CHECKING:  # xgboost imports scikit-learn and SciPy: loaded with the first model only
    import xgboost as xgb

BOOSTER_FILE = "booster.ubj"
META_FILE = "meta.json"

SCORED_SCHEMA = pa.schema(
    [
        pa.field("transaction_id", pa.string(), nullable=False),
        pa.field("fraud_probability", pa.float64(), nullable=False),
        pa.field("is_fraud", pa.bool_(), nullable=False),
    ]
)


@dataclass
class FraudScorer:
    """A trained booster and its decision threshold; scores model matrices."""

    booster: xgb.Booster
    threshold: float

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        """Fraud probability per row of a model matrix (``features.build_features``)."""
        if len(matrix) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.booster.inplace_predict(matrix, validate_features=False))

    def save(self, folder: Path) -> Path:
        """Write the booster and metadata into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(folder / BOOSTER_FILE)
        meta = {
            "threshold": self.threshold,
            "features": list(FEATURE_NAMES),
            "feature_version": HISTORY_VERSION,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2))
        return folder

    def raw(self) -> bytes:
        """The booster in XGBoost's own binary format (to ship it, e.g. a Spark broadcast)."""
        return bytes(self.booster.save_raw(raw_format="ubj"))

    @classmethod
    def from_raw(cls, raw: bytes, threshold: float) -> FraudScorer:
        """A scorer from :meth:`raw`'s bytes and its threshold."""
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
        booster.feature_types = list(FEATURE_TYPES)
        return cls(booster=booster, threshold=threshold)

    @classmethod
    def load(cls, folder: Path, *, nthread: int = 0) -> FraudScorer:
        """Read a scorer written by :meth:`save` (``nthread=1`` for request-path scoring)."""
        meta = json.loads((folder / META_FILE).read_text())
        if tuple(meta["features"]) != FEATURE_NAMES:
            raise ValueError(f"model features {meta['features']} differ from this code's")
        trained = meta.get("feature_version")
        if trained != HISTORY_VERSION:
            raise ValueError(
                f"the model was trained on {trained or 'no'} card-history features; this code "
                f"computes {HISTORY_VERSION}"
            )
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(folder / BOOSTER_FILE)
        booster.feature_types = list(FEATURE_TYPES)
        if nthread:
            booster.set_param({"nthread": nthread})
        return cls(booster=booster, threshold=float(meta["threshold"]))


def score_matrix(scorer: FraudScorer, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probability, decision at the model's threshold) for a model matrix."""
    proba = scorer.predict_proba(matrix).astype(np.float64)
    return proba, proba >= scorer.threshold


def score_columns(
    scorer: FraudScorer, cols: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(probability, decision at the model's threshold) for numeric input columns."""
    return score_matrix(scorer, build_features(cols))


def score_table(scorer: FraudScorer, table: Any) -> tuple[np.ndarray, np.ndarray]:
    """Score an Arrow table or pandas frame of validated transactions, history enriched."""
    return score_columns(scorer, columns_from_table(table))


def score_records(
    scorer: FraudScorer, records: Sequence[Any], history: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Score validated records and their card-history features (the API's hot path)."""
    return score_columns(scorer, columns_from_records(records, history))


def score_values(
    scorer: FraudScorer, values: Mapping[str, Sequence[Any]], history: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Score validated records' columns (``features.record_values``) and their history."""
    return score_columns(scorer, columns_from_values(values, history))


def scored_table(scorer: FraudScorer, table: pa.Table) -> pa.Table:
    """transaction_id, fraud_probability, is_fraud for a validated Arrow table."""
    proba, flag = score_table(scorer, table)
    return pa.Table.from_arrays(
        [table["transaction_id"], pa.array(proba), pa.array(flag)], schema=SCORED_SCHEMA
    )
