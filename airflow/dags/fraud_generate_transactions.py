"""Generate one day of transactions, and the label events reported that day, into the lake.

Daily at 00:00 UTC. Each run owns one day, its data interval `[day 00:00, day+1 00:00)` UTC:
the day of its logical date for scheduled runs and backfills, the last complete day for a
manual run. The task generates that day's synthetic card transactions and **overwrites the
day's partition** of the Iceberg table `fraud.transactions`, so a retry, rerun or backfill
replaces the day and never duplicates it.

It also overwrites the day's partition of `fraud.labels` with the label events reported that
day (chargebacks and analysts' verdicts about that day's and earlier transactions).

It emits the asset `fraud.transactions` (day, rows and snapshot ids in the event's extra).

Then `score_day` scores the day with the `@production` model into `fraud.predictions`
(`source = replay`), as the bank's online scoring would have: the traffic `fraud_monitor`
checks. Skipped while there is no production model; a rerun replaces the day's rows.
`remember_day` adds the day's transactions to the card-history store the API reads (a rerun
adds nothing twice).

Same steps as `fraudops generate --start DAY --days 1` and `fraudops replay --start DAY`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

log = logging.getLogger(__name__)

TRANSACTIONS = Asset(name="fraud.transactions", uri="iceberg://fraudops/fraud/transactions")


@dag(
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fraudops", "lake"],
    default_args={"owner": "fraudops", "retries": 2, "retry_delay": timedelta(minutes=1)},
    doc_md=__doc__,
)
def fraud_generate_transactions() -> None:
    @task(outlets=[TRANSACTIONS], execution_timeout=timedelta(minutes=30))
    def generate_day(
        *, data_interval_start: Any = None, dag_run: Any = None, outlet_events: Any = None
    ) -> dict[str, Any]:
        from fraudops.config import get_settings
        from fraudops.generate import generate

        # a manual run without a logical date has no data interval: use its run_after
        day = (data_interval_start or dag_run.run_after).date()
        result = generate(get_settings(), start=day, days=1)
        summary = {
            "day": day.isoformat(),
            "rows": result.rows,
            "fraud_rows": result.fraud_rows,
            "label_events": result.label_events,
            # strings: 64-bit ids lose digits in the UI's JSON view
            "snapshot_id": str(result.snapshot_id),
            "labels_snapshot_id": str(result.labels_snapshot_id),
        }
        outlet_events[TRANSACTIONS].extra = summary
        log.info("wrote %s: %s", TRANSACTIONS.name, summary)
        return summary

    @task(execution_timeout=timedelta(minutes=30))
    def score_day(generated: dict[str, Any]) -> dict[str, Any]:
        import datetime as dt

        from airflow.sdk.exceptions import AirflowSkipException

        from fraudops import registry, tracking
        from fraudops.config import get_settings
        from fraudops.replay import replay

        settings = get_settings()
        if registry.production_model(tracking.connect(settings), settings) is None:
            raise AirflowSkipException("no production model yet: nothing scores the day")
        result = replay(settings, start=dt.date.fromisoformat(generated["day"]))
        summary = {
            "day": generated["day"],
            "rows": result.rows,
            "model_version": result.model_version,
            "snapshot_id": str(result.snapshot_id),
        }
        log.info("logged the day's predictions: %s", summary)
        return summary

    @task(execution_timeout=timedelta(minutes=30))
    def remember_day(generated: dict[str, Any]) -> dict[str, Any]:
        import datetime as dt

        from fraudops.cardhistory.backfill import ingest_day
        from fraudops.config import get_settings

        added = ingest_day(get_settings(), dt.date.fromisoformat(generated["day"]))
        log.info("card-history store: %d of the day's transactions added", added)
        return {"day": generated["day"], "added": added}

    generated = generate_day()
    score_day(generated)
    remember_day(generated)


fraud_generate_transactions()
