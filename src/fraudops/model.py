"""The deployable model: the scorer wrapped as one MLflow pyfunc, for MLflow's own tools.

``mlflow models serve``, Spark UDFs and ``mlflow.pyfunc.load_model`` go through this wrapper;
the API and the promotion gate load the native booster through ``registry.load_scorer``. The
wrapper validates its input with the same rules as the API (``event_ts`` as ISO-8601 text, with
``Z`` or an offset), so every tool accepts and refuses the same transactions.
"""

from __future__ import annotations

import tempfile
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pyarrow as pa
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from fraudops.cardhistory import HISTORY_FEATURES, enrich
from fraudops.schema import LABEL
from fraudops.scoring import FraudScorer, score_table
from fraudops.validation import REQUIRED, SchemaError, rejections, validate_table

ENTRY_POINT = Path(__file__).with_name("pyfunc_entry.py")
MAX_LISTED = 20  # problems named in one refusal


def to_model_frame(table: pa.Table) -> pd.DataFrame:
    """A pandas frame in the pyfunc's input form (``event_ts`` as ISO-8601 text).

    No label and no card-history column: the pyfunc computes those from the frame's rows.
    """
    derived = {LABEL.name, *HISTORY_FEATURES}
    frame = table.drop_columns([c for c in table.column_names if c in derived]).to_pandas()
    ts = pd.to_datetime(frame["event_ts"], utc=True)
    frame["event_ts"] = ts.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # integers as int64: the signature then takes what JSON and pandas give (int64)
    for name in frame.columns[frame.dtypes.map(pd.api.types.is_integer_dtype)]:
        frame[name] = frame[name].astype("int64")
    return frame


def validated(frame: pd.DataFrame) -> pa.Table:
    """The contract's columns of a frame, typed, or an MLflow error naming every problem."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise MlflowException(
            f"missing column(s): {', '.join(missing)}", error_code=INVALID_PARAMETER_VALUE
        )
    text = pa.table(
        {c: pa.array(frame[c].map(_as_text).to_numpy(dtype=object), pa.string()) for c in REQUIRED}
    )
    try:
        result = validate_table(text)
    except SchemaError as exc:
        raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None
    if result.rejected.num_rows:
        found = rejections(result.rejected, limit=MAX_LISTED)
        lines = "; ".join(f"row {r.row}: {r.column}: {r.reason}" for r in found)
        raise MlflowException(f"invalid input: {lines}", error_code=INVALID_PARAMETER_VALUE)
    return result.valid


def _as_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        return str(value.isoformat())
    return str(value)


def predict_frame(scorer: FraudScorer, frame: pd.DataFrame) -> pd.DataFrame:
    """The pyfunc's output for a frame: ``fraud_probability`` and the ``is_fraud`` decision.

    The card-history features come from the frame's own rows (MLflow's tools have no store):
    send a card's transactions together to give each its history.
    """
    proba, flag = score_table(scorer, enrich(validated(frame)))
    return pd.DataFrame({"fraud_probability": proba, "is_fraud": flag.astype(np.int64)})


class FraudModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined,misc]
    """MLflow pyfunc: transactions (DataFrame) -> fraud_probability and is_fraud decision."""

    scorer: FraudScorer

    def load_context(self, context: Any) -> None:
        """Load the scorer from the model's artifacts."""
        self.scorer = FraudScorer.load(Path(context.artifacts["scorer"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Score transactions with the same rules, features and threshold as the API."""
        return predict_frame(self.scorer, model_input)


def log_model(scorer: FraudScorer, example: pa.Table) -> str:
    """Log the scorer as the deployable pyfunc (signature, input example); its model URI."""
    from mlflow.models import infer_signature

    frame = to_model_frame(example)
    output = predict_frame(scorer, frame)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # "integer columns cannot hold missing values": the contract forbids missing values
        warnings.filterwarnings("ignore", message=".*[Ii]nteger column", category=UserWarning)
        folder = scorer.save(Path(tmp) / "scorer")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(ENTRY_POINT),  # models from code: nothing is pickled
            artifacts={"scorer": str(folder)},
            signature=infer_signature(frame, output),
            input_example=frame,
            pip_requirements=_requirements(),
        )
    return str(info.model_uri)


def prepare_logging() -> None:
    """Map the installed packages' modules now, as :func:`log_model` would on its first call.

    ``mlflow.pyfunc.log_model`` checks the pinned requirements against this environment, and
    for that maps every installed distribution's modules, once per process (a scan of each
    distribution's file list). A caller with time to spare before it logs a model (the demo,
    while the lake is written) builds the map then.
    """
    try:
        from mlflow.utils import requirements_utils

        requirements_utils._init_packages_to_modules_map()  # type: ignore[no-untyped-call]
    except Exception:  # noqa: BLE001  (MLflow's own helper: without it, log_model maps them)
        return


def _requirements() -> list[str]:
    pins = []
    for dist in ("mlflow", "xgboost-cpu", "pandas", "pyarrow", "numpy", "fraudops"):
        try:
            pins.append(f"{dist}=={metadata.version(dist)}")
        except Exception:  # noqa: BLE001  (a missing distribution is simply not pinned)
            continue
    return pins
