"""Distributed training: XGBoost on Spark (``xgboost.spark.SparkXGBClassifier``).

The model matrix is the package's own (``features.build_features``); the sweep, threshold,
metrics, MLflow logging, registration and gate stay those of :mod:`fraudops.train`: only the
fit runs on executors, one XGBoost worker per Spark task, and gives back a plain booster.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from fraudops.config import Settings
from fraudops.features import FEATURE_NAMES, FEATURE_TYPES
from fraudops.spark.session import spark_session

LABEL = "label"
VALID = "is_valid"
# xgb.train calls it seed; the estimator, random_state
_RENAMED = {"seed": "random_state"}


def _frame(x: np.ndarray, y: np.ndarray, *, valid: bool) -> pd.DataFrame:
    frame = pd.DataFrame(x.astype(np.float64), columns=list(FEATURE_NAMES))
    frame[LABEL] = y.astype(np.int64)
    frame[VALID] = valid
    return frame


def fit_on_spark(
    settings: Settings,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    *,
    params: dict[str, Any],
    num_boost_round: int,
    early_stopping_rounds: int,
) -> xgb.Booster:
    """A booster trained on Spark with early stopping on the validation rows."""
    from xgboost.spark import SparkXGBClassifier

    spark = spark_session(settings, app="fraudops-train")
    workers = max(1, spark.sparkContext.defaultParallelism)  # the cores: a barrier stage needs all
    data = pd.concat(
        [_frame(x_train, y_train, valid=False), _frame(x_valid, y_valid, valid=True)],
        ignore_index=True,
    )
    frame = spark.createDataFrame(data).repartition(workers)
    # the classifier sets binary:logistic itself and refuses to be told
    kwargs = {_RENAMED.get(k, k): v for k, v in params.items() if k != "objective"}
    estimator = SparkXGBClassifier(
        features_col=list(FEATURE_NAMES),
        label_col=LABEL,
        validation_indicator_col=VALID,
        num_workers=workers,
        n_estimators=num_boost_round,
        early_stopping_rounds=early_stopping_rounds,
        feature_types=list(FEATURE_TYPES),
        feature_names=list(FEATURE_NAMES),
        **kwargs,
    )
    booster: xgb.Booster = estimator.fit(frame).get_booster()
    booster.feature_names = list(FEATURE_NAMES)
    booster.feature_types = list(FEATURE_TYPES)
    return booster
