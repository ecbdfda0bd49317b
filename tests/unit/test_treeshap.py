"""The TreeSHAP table gives XGBoost's own contributions (``pred_contribs``), row for row."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pytest
import xgboost as xgb

from fraudops import datagen, explain, treeshap
from fraudops.cardhistory import enrich
from fraudops.features import FEATURE_NAMES, features_from_table
from fraudops.scoring import FraudScorer
from tests.support.models import small_scorer


def xgboost_contribs(booster: xgb.Booster, matrix: np.ndarray) -> np.ndarray:
    data = xgb.DMatrix(matrix, nthread=1)
    return np.asarray(booster.predict(data, pred_contribs=True, validate_features=False))


@pytest.fixture(scope="module")
def data():
    return enrich(datagen.generate_day(dt.date(2026, 1, 1), rows=3_000, fraud_rate=0.05))


@pytest.fixture(scope="module")
def odd_rows(data) -> np.ndarray:
    """Rows a model meets in production: missing values, unseen and invalid categories."""
    matrix = features_from_table(data)[:300].copy()
    rng = np.random.default_rng(7)
    holes = rng.random(matrix.shape) < 0.15
    matrix[holes] = np.nan
    matrix[:20, FEATURE_NAMES.index("merchant_category")] = 57  # a category never seen
    matrix[20:40, FEATURE_NAMES.index("channel")] = -1  # not a category at all
    return matrix


@pytest.mark.parametrize("depth", [2, 6, 8])
def test_the_table_gives_xgboosts_contributions(data, odd_rows: np.ndarray, depth: int) -> None:
    """Categorical splits (two of the features), missing values, depths up to the sweep's."""
    scorer = small_scorer(
        data, params={"max_depth": depth, "objective": "binary:logistic"}, rounds=40, threshold=0.5
    )
    table = treeshap.make(scorer.booster)
    assert table is not None
    expected = xgboost_contribs(scorer.booster, odd_rows)
    got = table.contributions(odd_rows)
    assert got.shape == expected.shape == (len(odd_rows), len(FEATURE_NAMES) + 1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=2e-6)
    margin = scorer.booster.predict(
        xgb.DMatrix(odd_rows), output_margin=True, validate_features=False
    )
    np.testing.assert_allclose(got.sum(axis=1), margin, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(table.contributions(odd_rows, threads=2), got)  # files' way


def test_a_feature_split_on_twice_along_a_path() -> None:
    """Three features and deep trees: paths split on the same feature again and again."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2_000, 3)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    y = ((np.nan_to_num(x[:, 0]) > 0.3) ^ (np.nan_to_num(x[:, 1]) < -0.5)).astype(np.float32)
    booster = xgb.train(
        {"max_depth": 7, "objective": "binary:logistic"}, xgb.DMatrix(x, label=y), 20
    )
    table = treeshap.make(booster)
    assert table is not None
    assert table.depth > table.width  # some path repeats a feature
    np.testing.assert_allclose(
        table.contributions(x[:500]), xgboost_contribs(booster, x[:500]), rtol=1e-5, atol=2e-6
    )


def test_trees_of_a_single_leaf_give_the_bias_alone() -> None:
    x = np.random.default_rng(1).normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    booster = xgb.train(
        {"objective": "binary:logistic", "min_child_weight": 1e6}, xgb.DMatrix(x, label=y), 5
    )
    table = treeshap.make(booster)
    assert table is not None
    np.testing.assert_allclose(table.contributions(x), xgboost_contribs(booster, x), atol=1e-7)


def test_a_model_too_big_for_a_table_is_explained_by_xgboost(
    data, odd_rows: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    scorer = small_scorer(
        data, params={"max_depth": 4, "objective": "binary:logistic"}, rounds=10, threshold=0.5
    )
    monkeypatch.setattr(treeshap, "MAX_TABLE_BYTES", 1024)
    assert treeshap.make(scorer.booster) is None
    np.testing.assert_array_equal(
        explain.contributions(scorer, odd_rows), xgboost_contribs(scorer.booster, odd_rows)
    )


@pytest.mark.parametrize(
    "params",
    [
        {"booster": "dart", "rate_drop": 0.3},
        {"booster": "gblinear"},
        {"objective": "multi:softprob", "num_class": 3},
    ],
)
def test_models_the_table_does_not_hold_get_none(params: dict) -> None:
    x = np.random.default_rng(2).normal(size=(300, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32) + (x[:, 1] > 1)
    if "num_class" not in params:
        y = np.minimum(y, 1)
    booster = xgb.train({"objective": "binary:logistic", **params}, xgb.DMatrix(x, label=y), 5)
    assert treeshap.make(booster) is None


def test_a_boosters_table_is_made_once_and_kept_with_it(data) -> None:
    params = {"max_depth": 3, "objective": "binary:logistic"}
    one = small_scorer(data, params=params, rounds=5, threshold=0.5)
    other = FraudScorer(one.booster.copy(), threshold=0.5)
    assert treeshap.for_booster(one.booster) is treeshap.for_booster(one.booster)
    assert treeshap.for_booster(other.booster) is not treeshap.for_booster(one.booster)


def test_a_leafs_contributions_are_the_shapley_values_of_its_path() -> None:
    """Against the definition: every subset of the path's features, weighted and summed."""
    rng = np.random.default_rng(5)
    k = 4
    zero = rng.uniform(0.05, 1.0, size=(3, k))
    value = rng.normal(size=3)
    got = treeshap.leaf_contributions(zero, value)
    for leaf, pattern in itertools.product(range(3), range(1 << k)):
        one = [(pattern >> j) & 1 for j in range(k)]

        def reach(subset: set[int], leaf: int = leaf, one: list[int] = one) -> float:
            return value[leaf] * math.prod(
                one[j] if j in subset else zero[leaf, j] for j in range(k)
            )

        for i in range(k):
            others = [j for j in range(k) if j != i]
            shapley = sum(
                math.factorial(len(s))
                * math.factorial(k - len(s) - 1)
                / math.factorial(k)
                * (reach({*s, i}) - reach(set(s)))
                for size in range(k)
                for s in itertools.combinations(others, size)
            )
            assert got[leaf, pattern, i] == pytest.approx(shapley, rel=1e-9, abs=1e-12)
