"""The scorer and the one scoring path: save/load, records and tables score alike."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from fraudops import datagen
from fraudops.cardhistory import HISTORY_FEATURES, enrich
from fraudops.model import predict_frame, to_model_frame
from fraudops.scoring import (
    META_FILE,
    FraudScorer,
    score_records,
    score_table,
    scored_table,
)
from fraudops.validation import parse_transactions
from tests.support.models import small_scorer


@pytest.fixture(scope="module")
def scorer() -> FraudScorer:
    """A small booster: these tests check the scoring path, not model quality."""
    data = enrich(datagen.generate_day(dt.date(2026, 1, 1), rows=3_000))
    return small_scorer(
        data, params={"max_depth": 3, "objective": "binary:logistic"}, rounds=10, threshold=0.3
    )


@pytest.fixture(scope="module")
def day():
    day = datagen.generate_day(dt.date(2026, 2, 1), rows=300, seed=3).drop_columns(["is_fraud"])
    return enrich(day)


def test_save_then_load_gives_the_same_scores(tmp_path: Path, scorer: FraudScorer, day) -> None:
    loaded = FraudScorer.load(scorer.save(tmp_path / "scorer"), nthread=1)

    assert loaded.threshold == scorer.threshold
    np.testing.assert_array_equal(score_table(loaded, day)[0], score_table(scorer, day)[0])


def test_load_refuses_a_model_of_other_features(tmp_path: Path, scorer: FraudScorer) -> None:
    folder = scorer.save(tmp_path / "scorer")
    meta = json.loads((folder / META_FILE).read_text())
    meta["features"] = [*meta["features"], "an_unknown_feature"]
    (folder / META_FILE).write_text(json.dumps(meta))

    with pytest.raises(ValueError, match="differ from this code"):
        FraudScorer.load(folder)


def test_load_refuses_a_model_of_another_card_history_version(
    tmp_path: Path, scorer: FraudScorer
) -> None:
    folder = scorer.save(tmp_path / "scorer")
    meta = json.loads((folder / META_FILE).read_text())
    del meta["feature_version"]  # a model from before card history
    (folder / META_FILE).write_text(json.dumps(meta))

    with pytest.raises(ValueError, match="trained on no card-history features"):
        FraudScorer.load(folder)


def test_records_tables_frames_and_the_pyfunc_give_one_answer(scorer: FraudScorer, day) -> None:
    rows = day.drop_columns(list(HISTORY_FEATURES)).to_pylist()
    for row in rows:
        row["event_ts"] = row["event_ts"].isoformat()
    records = parse_transactions(json.dumps(rows).encode(), max_batch=1_000)

    history = {name: day[name].to_numpy() for name in HISTORY_FEATURES}
    from_records, flags = score_records(scorer, records, history)
    from_table, _ = score_table(scorer, day)
    from_frame = predict_frame(scorer, to_model_frame(day))

    np.testing.assert_allclose(from_records, from_table, rtol=0, atol=1e-7)
    np.testing.assert_allclose(from_frame["fraud_probability"], from_table, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(flags, from_records >= scorer.threshold)
    np.testing.assert_array_equal(from_frame["is_fraud"].to_numpy() == 1, flags)


def test_scored_table_keeps_ids_and_order(scorer: FraudScorer, day) -> None:
    out = scored_table(scorer, day)

    assert out.column_names == ["transaction_id", "fraud_probability", "is_fraud"]
    assert out["transaction_id"].to_pylist() == day["transaction_id"].to_pylist()


def test_nothing_to_score_is_an_empty_answer(scorer: FraudScorer, day) -> None:
    proba, flags = score_table(scorer, day.slice(0, 0))

    assert proba.shape == flags.shape == (0,)
