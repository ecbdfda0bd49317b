"""The monitoring reference: card-history values a young lake truncates are left missing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import mlflow
import numpy as np
import pyarrow as pa
import pytest

from fraudops import datagen
from fraudops.cardhistory import HISTORY_FEATURES, enrich
from fraudops.cardhistory.definition import HISTORY_NEEDED_DAYS
from fraudops.features import FEATURE_NAMES
from fraudops.monitoring.drift import psi
from fraudops.monitoring.reference import log_reference, reference_of
from tests.support.models import small_scorer

pytestmark = pytest.mark.integration


def _reference(tmp_path: Path, days: int) -> dict[str, np.ndarray]:
    start = dt.date(2026, 1, 1)
    data = enrich(
        pa.concat_tables(
            datagen.generate_day(start + dt.timedelta(days=i), rows=300) for i in range(days)
        )
    )
    scorer = small_scorer(data, params={"max_depth": 2}, rounds=2, threshold=0.5)
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        with mlflow.start_run() as run:
            log_reference(scorer, data)
        return reference_of(run.info.run_id)
    finally:
        mlflow.set_tracking_uri(before)


def test_history_features_are_missing_where_the_data_did_not_cover_their_window(
    tmp_path: Path,
) -> None:
    reference = _reference(tmp_path, 12)
    assert set(reference) == {*FEATURE_NAMES, "fraud_probability"}
    present = {name: ~np.isnan(reference[name]) for name in HISTORY_FEATURES}
    # 12 days: a 7-day window is covered from the 8th day, a 30-day one never
    assert present["card_txns_7d"].any() and not present["card_txns_7d"].all()
    assert not present["new_merchant_30d"].any()
    assert present["card_txns_1h"].sum() > present["card_txns_7d"].sum()
    assert not np.isnan(reference["transaction_amount"]).any()

    # a lake 40 days long: every window is covered for its last days
    old = _reference(tmp_path / "old", 40)
    assert all(
        (~np.isnan(old[name])).any() for name in HISTORY_NEEDED_DAYS if name != "seconds_since_last"
    )


def test_drift_compares_the_values_present() -> None:
    reference = np.array([1.0, 2.0, 3.0, np.nan, np.nan] * 200)
    assert psi(reference, np.array([1.0, 2.0, 3.0] * 100)) == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(psi(np.full(10, np.nan), np.arange(10.0)))
