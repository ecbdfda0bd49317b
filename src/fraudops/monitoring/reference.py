"""A model's reference for monitoring: a sample of what it learned from, logged with its run.

Drift then asks whether production still looks like the data the model was trained on: after
a shift, it keeps saying no until retrains have learned from enough of the new world for it
to outweigh the old.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import mlflow
import mlflow.artifacts
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fraudops.cardhistory.definition import HISTORY_NEEDED_DAYS
from fraudops.features import FEATURE_NAMES, features_from_table
from fraudops.scoring import FraudScorer

REFERENCE_FILE = "reference.parquet"
REFERENCE_ROWS = 20_000


def log_reference(scorer: FraudScorer, data: pa.Table) -> None:
    """Log a seeded sample of ``data``, its features and scores, to the active run.

    A card-history feature of a row is missing (NaN) in the sample when ``data`` began fewer
    days before the row than the feature needs (:data:`HISTORY_NEEDED_DAYS`): there its value
    is truncated (a 7-day count on a lake's third day is a 3-day count), and production, with
    its longer histories, would look drifted from it. Drift compares the values present.
    """
    rng = np.random.default_rng(0)
    take = np.sort(rng.choice(data.num_rows, min(REFERENCE_ROWS, data.num_rows), replace=False))
    sample = data.take(pa.array(take))
    matrix = features_from_table(sample)
    columns = {name: matrix[:, j] for j, name in enumerate(FEATURE_NAMES)}
    columns["fraud_probability"] = scorer.predict_proba(matrix).astype(np.float64)
    first = pc.min(data["event_ts"]).as_py().date()
    day = np.asarray(pc.cast(sample["event_ts"], pa.date32()).cast(pa.int32()).to_numpy())
    for name, days in HISTORY_NEEDED_DAYS.items():
        covered = (first + dt.timedelta(days=days) - dt.date(1970, 1, 1)).days
        columns[name] = np.where(day >= covered, columns[name], np.nan)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / REFERENCE_FILE
        pq.write_table(pa.table(columns), path)
        mlflow.log_artifact(str(path))


def reference_of(run_id: str) -> dict[str, np.ndarray]:
    """The reference sample logged with a model's run: its features and scores."""
    with tempfile.TemporaryDirectory(prefix="fraudops-reference-") as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=REFERENCE_FILE, dst_path=tmp
        )
        table = pq.read_table(path)
    return {name: table[name].to_numpy() for name in table.column_names}
