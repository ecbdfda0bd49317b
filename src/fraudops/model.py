"""The deployable model: the scorer wrapped as one MLflow pyfunc, for MLflow's own tools.

``mlflow models serve``, Spark UDFs and ``mlflow.pyfunc.load_model`` go through this wrapper;
the API and the promotion gate load the native booster through ``registry.load_scorer``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pyarrow as pa

from fraudops.scoring import FraudScorer, score_table


def to_model_frame(table: pa.Table) -> pd.DataFrame:
    """A pandas frame in the pyfunc's input form (``event_ts`` as naive UTC, no label)."""
    frame = table.drop_columns([c for c in table.column_names if c == "is_fraud"]).to_pandas()
    ts = frame["event_ts"]
    if getattr(ts.dt, "tz", None) is not None:
        frame["event_ts"] = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


def predict_frame(scorer: FraudScorer, frame: pd.DataFrame) -> pd.DataFrame:
    """The pyfunc's output for a frame: ``fraud_probability`` and the ``is_fraud`` decision."""
    proba, flag = score_table(scorer, frame)
    return pd.DataFrame({"fraud_probability": proba, "is_fraud": flag.astype(np.int64)})


class FraudModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined,misc]
    """MLflow pyfunc: transactions (DataFrame) -> fraud_probability and is_fraud decision."""

    scorer: FraudScorer

    def load_context(self, context: Any) -> None:
        """Load the scorer from the model's artifacts."""
        self.scorer = FraudScorer.load(Path(context.artifacts["scorer"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Score transactions with the same features and threshold as the API."""
        return predict_frame(self.scorer, model_input)
