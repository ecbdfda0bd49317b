"""A model's reference for monitoring: a sample of its most recent data, logged with its run.

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
# the data's last 7 days: the closest to production, and where card histories are longest
REFERENCE_SPAN = dt.timedelta(days=6)


def log_reference(scorer: FraudScorer, data: pa.Table) -> None:
    """Log a seeded sample of ``data``'s last days, its features and scores, to the active run.

    A card-history feature is left out while ``data`` holds fewer days before the sample than
    the feature needs (:data:`HISTORY_NEEDED_DAYS`): on a young lake its values are truncated,
    and production, with its longer histories, would look drifted from them. The check then
    judges that feature once a model trained on more history is in production.
    """
    day = pc.cast(data["event_ts"], pa.date32())
    first, last = pc.min(day).as_py(), pc.max(day).as_py()
    recent = data.filter(pc.greater_equal(day, last - REFERENCE_SPAN))
    history_days = max((last - REFERENCE_SPAN - first).days, 0)
    rng = np.random.default_rng(0)
    n = min(REFERENCE_ROWS, recent.num_rows)
    sample = recent.take(pa.array(np.sort(rng.choice(recent.num_rows, n, replace=False))))
    matrix = features_from_table(sample)
    columns = {
        name: matrix[:, j]
        for j, name in enumerate(FEATURE_NAMES)
        if HISTORY_NEEDED_DAYS.get(name, 0) <= history_days
    }
    columns["fraud_probability"] = scorer.predict_proba(matrix).astype(np.float64)
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
