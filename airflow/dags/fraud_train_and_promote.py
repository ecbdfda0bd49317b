"""Train the model on a pinned lake snapshot, register it and apply the promotion gate.

Runs weekly (Monday 03:00 UTC), whenever `fraud_generate_transactions` updates the asset
`fraud.transactions`, and on demand.

1. `pin_snapshot`: the lake's current snapshot id; the rest of the run reads exactly that
   snapshot, so a retried task trains on the same data. While the lake holds too few days to
   train (a new installation before `fraud_bootstrap`), the run is skipped, not failed.
2. `train`: the XGBoost sweep in MLflow (experiment `fraud-detection`); the best run becomes a
   new version of `fraud-detector`.
3. `promote`: the gate re-scores the candidate and the current `@production` version on the same
   fresh holdout and moves the alias only if the candidate is at least as good. The decision
   is in this task's log and on the model version (tags `fraudops.gate.*`).

Same steps as `fraudops train` then `fraudops promote`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

log = logging.getLogger(__name__)

TRANSACTIONS = Asset(name="fraud.transactions", uri="iceberg://fraudops/fraud/transactions")


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 * * 1", timezone="UTC"), assets=[TRANSACTIONS]
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fraudops", "training"],
    default_args={"owner": "fraudops", "retries": 1, "retry_delay": timedelta(minutes=2)},
    doc_md=__doc__,
)
def fraud_train_and_promote() -> None:
    @task
    def pin_snapshot() -> str:
        from airflow.sdk.exceptions import AirflowSkipException

        from fraudops import lake
        from fraudops.config import get_settings

        settings = get_settings()
        table = lake.transactions_table(lake.open_catalog(settings))
        snapshot_id = lake.table_status(table).snapshot_id
        have = len(lake.snapshot_days(table, snapshot_id)) if snapshot_id else 0
        need = settings.valid_days + settings.holdout_days + 1
        if have < need:
            # a young installation, not a failure: nothing to retry until the history exists
            raise AirflowSkipException(
                f"the lake has {have} day(s), training needs {need}: trigger fraud_bootstrap"
            )
        log.info("training on %s @ snapshot %s (%d days)", lake.TRANSACTIONS, snapshot_id, have)
        # a string: 64-bit ids lose digits in the UI's JSON view
        return str(snapshot_id)

    @task(execution_timeout=timedelta(hours=2))
    def train(snapshot_id: str) -> str:
        from fraudops.config import get_settings
        from fraudops.train import train_and_register

        result = train_and_register(get_settings(), snapshot_id=int(snapshot_id), progress=log.info)
        return str(result.version)

    @task
    def promote(version: str) -> dict[str, Any]:
        from fraudops import registry
        from fraudops.config import get_settings

        decision = registry.promote(get_settings(), version=version)
        log.info("gate: %s version %s: %s", decision.verdict, version, decision.reason)
        return decision.summary()

    promote(train(pin_snapshot()))


fraud_train_and_promote()
