"""Early stopping on aucpr: XGBoost's own figure and XGBoost's own stopping, computed cheaply."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xgboost as xgb

from fraudops import fitting
from fraudops.stopping import EarlyStopping, aucpr


def _data(seed: int, rows: int, levels: int | None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((rows, 4))
    if levels:  # few distinct feature values: many rows share a score
        x = np.floor(x * levels)
    y = (rng.random(rows) < 0.02 + 0.3 * x[:, 0] / (levels or 1)).astype(np.float32)
    return x, y


@pytest.mark.parametrize(("seed", "levels"), [(0, None), (1, 3), (2, 2), (3, 8)])
def test_aucpr_is_xgboosts_own_figure_to_the_last_bit(seed: int, levels: int | None) -> None:
    x, y = _data(seed, 5_000, levels)
    d = xgb.DMatrix(x, y)
    booster = xgb.Booster({"objective": "binary:logistic", "eval_metric": "aucpr"}, [d])
    checked = 0
    for i in range(12):
        booster.update(d, i)
        theirs = float(booster.eval(d).split("aucpr:")[1])  # printed with 17 digits
        proba = booster.predict(d)
        assert aucpr(proba, y) == theirs
        checked += len(np.unique(proba)) < len(proba)  # rounds with tied scores
    assert levels is None or checked == 12


def test_aucpr_without_both_classes_is_nan() -> None:
    proba = np.array([0.1, 0.4, 0.9], dtype=np.float32)
    assert math.isnan(aucpr(proba, np.zeros(3)))
    assert math.isnan(aucpr(proba, np.ones(3)))


def test_early_stopping_gives_the_booster_xgboosts_early_stopping_gives() -> None:
    x, y = _data(4, 6_000, None)
    xv, yv = _data(5, 3_000, None)
    params = {"objective": "binary:logistic", "eval_metric": "aucpr", "max_depth": 3, "eta": 0.3}
    train, valid = xgb.DMatrix(x, y), xgb.DMatrix(xv, yv)
    theirs = xgb.train(
        params, train, 200, evals=[(valid, "v")], early_stopping_rounds=5, verbose_eval=False
    )
    stop = EarlyStopping(valid, rounds=5)
    ours = xgb.train(params, train, 200, callbacks=[stop], verbose_eval=False)
    assert theirs.num_boosted_rounds() < 200  # it did stop early
    assert ours.num_boosted_rounds() == theirs.num_boosted_rounds()
    assert ours.attr("best_iteration") == theirs.attr("best_iteration")
    assert ours.attr("best_score") == theirs.attr("best_score")
    np.testing.assert_array_equal(ours.predict(valid), theirs.predict(valid))


def test_a_fit_refuses_another_stopping_metric() -> None:
    x, y = _data(6, 100, None)
    d = xgb.DMatrix(x, y)
    with pytest.raises(ValueError, match="aucpr"):
        fitting.fit(d, d, params={"eval_metric": "logloss"})
