"""Small boosters for tests of the scoring plumbing: trained in a moment, not for quality."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import xgboost as xgb

from fraudops.features import features_from_table
from fraudops.fitting import matrix
from fraudops.scoring import FraudScorer
from fraudops.trainset import labels


def small_scorer(
    data: pa.Table, *, params: dict[str, Any], rounds: int, threshold: float
) -> FraudScorer:
    """A booster trained on an enriched, labelled table (``is_fraud``), as a scorer."""
    booster = xgb.train(params, matrix(features_from_table(data), labels(data)), rounds)
    return FraudScorer(booster, threshold=threshold)
