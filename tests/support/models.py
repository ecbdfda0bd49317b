"""Small boosters for tests of the scoring plumbing: trained in a moment, not for quality."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import xgboost as xgb

from fraudops.features import FEATURE_NAMES, FEATURE_TYPES, features_from_table
from fraudops.scoring import FraudScorer


def small_scorer(
    data: pa.Table, *, params: dict[str, Any], rounds: int, threshold: float
) -> FraudScorer:
    """A booster trained on an enriched, labelled table (``is_fraud``), as a scorer."""
    matrix = xgb.DMatrix(
        features_from_table(data),
        data["is_fraud"].to_numpy(),
        feature_names=list(FEATURE_NAMES),
        feature_types=list(FEATURE_TYPES),
        enable_categorical=True,
    )
    return FraudScorer(xgb.train(params, matrix, rounds), threshold=threshold)
