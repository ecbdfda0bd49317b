"""The DAGs on the Spark engine (``FRAUDOPS_ENGINE=spark``, ``local[2]``) with ``dag.test()``.

One variable moves every DAG's heavy steps to Spark: the nightly generation writes its day
through Spark tasks, and the nightly batch scoring scores the inbox on Spark.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudops import inbox, lake
from fraudops.config import Settings
from fraudops.demo import sample_csv
from fraudops.engine import Engine
from tests.support.airflow_env import RunDags

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_the_dags_run_their_steps_on_spark(
    run_dags: RunDags, trained_settings: Settings, tmp_path: Path
) -> None:
    settings = trained_settings.model_copy(
        update={
            "engine": Engine.SPARK,
            "spark_master": "local[2]",
            "spark_driver_memory": "768m",
            "rows_per_day": 1_000,
            "catalog_uri": f"sqlite:///{tmp_path / 'catalog.db'}",
            "warehouse": (tmp_path / "warehouse").as_uri(),
            "inbox": str(tmp_path / "inbox"),
            "feature_store": str(tmp_path / "feature-store.db"),
        }
    )
    inbox.drop_file(settings, "cards.csv", sample_csv(rows=300))

    runs = run_dags(
        settings,
        [
            {"dag_id": "fraud_generate_transactions", "logical_date": "2026-01-11"},
            {"dag_id": "fraud_batch_score", "logical_date": "2026-01-12"},
        ],
    )

    generated, scored = runs
    assert generated["state"] == scored["state"] == "success", (runs[0]["tasks"], runs[1]["tasks"])
    assert generated["xcom"]["generate_day"]["rows"] == 1_000
    table = lake.transactions_table(lake.open_catalog(settings))
    snapshot = table.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    assert snapshot.summary["fraudops.engine"] == "spark"  # written by Spark tasks
    assert str(snapshot.snapshot_id) == generated["xcom"]["generate_day"]["snapshot_id"]
    summary = scored["xcom"]["score_inbox"]
    assert summary["files"] == 1 and summary["rows_scored"] + summary["rows_rejected"] == 300
    assert summary["rows_scored"] > 0
