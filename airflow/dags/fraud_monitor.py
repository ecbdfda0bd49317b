"""Check the production model every day: drift of what it scores, decay on matured labels.

Daily at 04:00 UTC. Each run checks the day before its logical date (the day just finished;
a rerun checks the same day):

0. `compact_predictions`: every finished day of `fraud.predictions` with many small files
   (each API worker commits one every few seconds) is rewritten as one file, its rows
   unchanged, so the check (and any reader) opens one file a day. A failure here does not
   stop the check. Same as `fraudops compact`.
1. `check`: PSI of every feature and of the score in the day's predictions
   (`fraud.predictions`) against the reference logged with the model; average precision and
   recall at the alert budget on the predictions whose labels have matured, against the
   model's holdout figures. The verdict (healthy, drifting, decayed) and its reasons go to an
   MLflow run in the experiment `fraud-monitoring`, with an HTML drift report, and to a row of
   `fraud.model_health`.
2. `alarm`: only when the model is drifting or decayed (otherwise skipped), emits the asset
   `fraud.model_health`, which schedules `fraud_train_and_promote`; the event carries the
   verdict, so the training run records why it ran, and whether to retrain at all (not
   while the last training is fewer than `FRAUDOPS_RETRAIN_COOLDOWN_DAYS` days of data old).

Same check as `fraudops monitor --as-of DAY`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, CronTriggerTimetable, dag, task

log = logging.getLogger(__name__)

MODEL_HEALTH = Asset(name="fraud.model_health", uri="iceberg://fraudops/fraud/model_health")


@dag(
    schedule=CronTriggerTimetable("0 4 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fraudops", "monitoring"],
    default_args={"owner": "fraudops", "retries": 2, "retry_delay": timedelta(minutes=2)},
    doc_md=__doc__,
)
def fraud_monitor() -> None:
    @task(execution_timeout=timedelta(minutes=30))
    def compact_predictions(*, logical_date: Any = None, dag_run: Any = None) -> int:
        from fraudops import lake
        from fraudops.config import get_settings

        before = (logical_date or dag_run.run_after).date()  # the days checked, and older
        done = lake.compact_predictions(get_settings(), before=before)
        for day in done:
            log.info("compacted %s: %d files -> %d", day.day, day.files_before, day.files_after)
        return len(done)

    @task(execution_timeout=timedelta(minutes=30), trigger_rule="all_done")
    def check(*, logical_date: Any = None, dag_run: Any = None) -> dict[str, Any]:
        from fraudops.config import get_settings
        from fraudops.monitoring import monitor

        # the day before the run's date, never "now": a rerun checks the same day
        day = (logical_date or dag_run.run_after).date() - timedelta(days=1)
        result = monitor(get_settings(), as_of=day)
        summary = {
            "as_of": day.isoformat(),
            "model_version": result.model_version,
            "status": result.health.status.value,
            "alarm": result.health.alarm,
            "reasons": result.health.reasons,
            "retrain": result.retrain.due,
            "retrain_reason": result.retrain.reason,
            "drifting_features": result.health.drifting_features,
            "run_id": result.run_id,
        }
        log.info("model health: %s", summary)
        return summary

    @task.short_circuit
    def unhealthy(summary: dict[str, Any]) -> bool:
        return bool(summary["alarm"])

    @task(outlets=[MODEL_HEALTH])
    def alarm(summary: dict[str, Any], *, outlet_events: Any = None) -> dict[str, Any]:
        outlet_events[MODEL_HEALTH].extra = summary
        log.warning("the production model is %s: %s", summary["status"], summary["reasons"])
        return summary

    summary = check()
    compact_predictions() >> summary
    unhealthy(summary) >> alarm(summary)


fraud_monitor()
