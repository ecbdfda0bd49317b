"""The deployable model: preprocessing + booster + decision threshold, as one MLflow pyfunc."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pyarrow as pa
import xgboost as xgb

from fraudops.features import FEATURE_NAMES, FEATURE_TYPES

BOOSTER_FILE = "booster.ubj"
META_FILE = "meta.json"


@dataclass
class FraudScorer:
    """A trained booster and its decision threshold; scores model matrices."""

    booster: xgb.Booster
    threshold: float

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        """Fraud probability per row of a model matrix (``features.build_features``)."""
        if len(matrix) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.booster.inplace_predict(matrix, validate_features=False))

    def save(self, folder: Path) -> Path:
        """Write the booster and metadata into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(folder / BOOSTER_FILE)
        meta = {"threshold": self.threshold, "features": list(FEATURE_NAMES)}
        (folder / META_FILE).write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: Path, *, nthread: int = 0) -> FraudScorer:
        """Read a scorer written by :meth:`save` (``nthread=1`` for request-path scoring)."""
        meta = json.loads((folder / META_FILE).read_text())
        if tuple(meta["features"]) != FEATURE_NAMES:
            raise ValueError(f"model features {meta['features']} differ from this code's")
        booster = xgb.Booster()
        booster.load_model(folder / BOOSTER_FILE)
        booster.feature_types = list(FEATURE_TYPES)
        if nthread:
            booster.set_param({"nthread": nthread})
        return cls(booster=booster, threshold=float(meta["threshold"]))


def to_model_frame(table: pa.Table) -> pd.DataFrame:
    """A pandas frame in the pyfunc's input form (``event_ts`` as naive UTC, no label)."""
    frame = table.drop_columns([c for c in table.column_names if c == "is_fraud"]).to_pandas()
    ts = frame["event_ts"]
    if getattr(ts.dt, "tz", None) is not None:
        frame["event_ts"] = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


class FraudModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    """MLflow pyfunc: transactions (DataFrame) -> fraud_probability and is_fraud decision."""

    scorer: FraudScorer

    def load_context(self, context: Any) -> None:
        """Load the scorer from the model's artifacts."""
        self.scorer = FraudScorer.load(Path(context.artifacts["scorer"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Score transactions with the same features and threshold as the API."""
        return self.predict_with(self.scorer, model_input)

    @staticmethod
    def predict_with(scorer: FraudScorer, frame: pd.DataFrame) -> pd.DataFrame:
        """The pyfunc's output for a frame, given a scorer."""
        from fraudops.scoring import score_table

        proba, flag = score_table(scorer, frame)
        return pd.DataFrame({"fraud_probability": proba, "is_fraud": flag.astype(np.int64)})
