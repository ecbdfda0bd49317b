"""Fitting one booster: XGBoost on matrices built once per sweep, or on Spark executors.

Training (:mod:`fraudops.train`) runs each config of its sweep through :func:`fitter`; the
booster is then cut at its best iteration (:func:`trimmed`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xgboost as xgb

from fraudops.config import Settings
from fraudops.engine import Engine
from fraudops.features import FEATURE_NAMES, FEATURE_TYPES

BASE_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "tree_method": "hist",
    "eval_metric": "aucpr",
    "max_cat_to_onehot": 1,
    "max_bin": 128,
    "seed": 0,
}
NUM_BOOST_ROUND = 200
EARLY_STOPPING_ROUNDS = 25


def matrices(
    x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray
) -> tuple[xgb.DMatrix, xgb.DMatrix]:
    """The training and validation matrices, built once for the whole sweep.

    Every config then reuses their histogram bins (the same ``max_bin``) instead of sketching
    the data again: the same boosters, less work.
    """
    kw = {"feature_names": list(FEATURE_NAMES), "feature_types": list(FEATURE_TYPES)}
    dtrain = xgb.DMatrix(x_train, y_train, enable_categorical=True, **kw)
    dvalid = xgb.DMatrix(x_valid, y_valid, enable_categorical=True, **kw)
    return dtrain, dvalid


def fit(
    dtrain: xgb.DMatrix,
    dvalid: xgb.DMatrix,
    *,
    params: dict[str, Any],
    num_boost_round: int = NUM_BOOST_ROUND,
) -> xgb.Booster:
    """Train a booster with early stopping on the validation days."""
    return xgb.train(
        {**BASE_PARAMS, **params},
        dtrain,
        num_boost_round=num_boost_round,
        evals=[(dvalid, "valid")],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        verbose_eval=False,
    )


Fit = Callable[[dict[str, Any]], xgb.Booster]  # a config's params -> its booster


def fitter(
    settings: Settings,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
) -> Fit:
    """A config's fit: :func:`fit` on matrices built once, or on Spark executors."""
    if settings.engine is not Engine.SPARK:
        dtrain, dvalid = matrices(x_train, y_train, x_valid, y_valid)
        return lambda params: fit(dtrain, dvalid, params=params)
    from fraudops.spark.train import fit_on_spark  # pyspark: only when asked

    return lambda params: fit_on_spark(
        settings,
        x_train,
        y_train,
        x_valid,
        y_valid,
        params=params,
        num_boost_round=NUM_BOOST_ROUND,
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
    )


def trimmed(booster: xgb.Booster) -> xgb.Booster:
    """The booster cut at its best iteration (so inplace_predict needs no range)."""
    best = getattr(booster, "best_iteration", None)
    return booster if best is None else booster[: best + 1]
