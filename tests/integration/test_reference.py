"""The monitoring reference leaves out card-history features a young lake truncates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import mlflow
import pyarrow as pa
import pytest
import xgboost as xgb

from fraudops import datagen
from fraudops.cardhistory import HISTORY_FEATURES, enrich
from fraudops.features import BASE_FEATURES, FEATURE_NAMES, FEATURE_TYPES, features_from_table
from fraudops.monitoring.reference import log_reference, reference_of
from fraudops.scoring import FraudScorer

pytestmark = pytest.mark.integration


def _reference(tmp_path: Path, days: int) -> set[str]:
    start = dt.date(2026, 1, 1)
    data = enrich(
        pa.concat_tables(
            datagen.generate_day(start + dt.timedelta(days=i), rows=300) for i in range(days)
        )
    )
    matrix = xgb.DMatrix(
        features_from_table(data),
        data["is_fraud"].to_numpy(),
        feature_names=list(FEATURE_NAMES),
        feature_types=list(FEATURE_TYPES),
        enable_categorical=True,
    )
    scorer = FraudScorer(xgb.train({"max_depth": 2}, matrix, 2), threshold=0.5)
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        with mlflow.start_run() as run:
            log_reference(scorer, data)
        return set(reference_of(run.info.run_id))
    finally:
        mlflow.set_tracking_uri(before)


def test_a_young_lake_keeps_only_the_history_features_it_covers(tmp_path: Path) -> None:
    # 12 days: the 7-day sample starts on day 6, after 5 days of history
    young = _reference(tmp_path / "young", 12)
    assert young == {
        *BASE_FEATURES,
        "fraud_probability",
        *(f for f in HISTORY_FEATURES if f.endswith(("1h", "6h", "24h"))),
    }

    # 40 days: 33 days before the sample, every window covered
    old = _reference(tmp_path / "old", 40)
    assert old == {*FEATURE_NAMES, "fraud_probability"}
