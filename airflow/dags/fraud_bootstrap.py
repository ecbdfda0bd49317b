"""Set up a new installation in one click: fill the lake's history and train the first model.

Manual only (and not paused, so the Trigger button is all it takes). Trigger it first.

1. `generate_history`: generates `days` days of transactions and the label events reported
   during them (default `FRAUDOPS_DAYS`, 30)
   ending the day before the run's date, or from `start` when given, and overwrites those days
   in `fraud.transactions` (a rerun replaces them, never duplicates).
2. `train`: the XGBoost sweep pinned to the snapshot just written; the best run becomes a new
   version of `fraud-detector`.
3. `promote`: the promotion gate; with no production model yet, a candidate above the floor
   becomes `@production`.

Afterwards unpause `fraud_generate_transactions`, `fraud_train_and_promote` and
`fraud_batch_score` to keep the lake, the model and the outbox up to date.
Same steps as `fraudops demo`.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

log = logging.getLogger(__name__)


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    tags=["fraudops", "setup"],
    default_args={"owner": "fraudops", "retries": 1, "retry_delay": timedelta(minutes=1)},
    params={
        "days": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=366,
            description="Days of history to generate (empty: FRAUDOPS_DAYS, 30 by default).",
        ),
        "start": Param(
            None,
            type=["null", "string"],
            format="date",
            description="First day (empty: the history ends the day before the run's date).",
        ),
    },
    doc_md=__doc__,
)
def fraud_bootstrap() -> None:
    @task(execution_timeout=timedelta(hours=1))
    def generate_history(
        *, params: Any = None, logical_date: Any = None, dag_run: Any = None
    ) -> dict[str, Any]:
        from fraudops.config import get_settings
        from fraudops.generate import generate

        settings = get_settings()
        days = params["days"] or settings.days
        # the run's date, never "now": a rerun of this run fills the same days
        run_day = (logical_date or dag_run.run_after).date()
        start = date.fromisoformat(params["start"]) if params["start"] else None
        start = start or run_day - timedelta(days=days)
        result = generate(settings, start=start, days=days)
        summary = {
            "days": f"{result.days[0]}..{result.days[-1]}",
            "rows": result.rows,
            "fraud_rows": result.fraud_rows,
            "snapshot_id": str(result.snapshot_id),  # a string: the UI's JSON loses digits
            "labels_snapshot_id": str(result.labels_snapshot_id),
            "label_events": result.label_events,
        }
        log.info("lake history written: %s", summary)
        return summary

    @task(execution_timeout=timedelta(hours=2))
    def train(history: dict[str, Any]) -> str:
        from fraudops.config import get_settings
        from fraudops.train import train_and_register

        result = train_and_register(
            get_settings(),
            snapshot_id=int(history["snapshot_id"]),
            labels_snapshot_id=int(history["labels_snapshot_id"]),
            trigger="fraud_bootstrap",
            progress=log.info,
        )
        return str(result.version)

    @task
    def promote(version: str) -> dict[str, Any]:
        from fraudops import registry
        from fraudops.config import get_settings

        decision = registry.promote(get_settings(), version=version)
        log.info("gate: %s version %s: %s", decision.verdict, version, decision.reason)
        return decision.summary()

    @task(execution_timeout=timedelta(hours=1))
    def fill_card_history(history: dict[str, Any]) -> dict[str, Any]:
        import dataclasses

        from fraudops.cardhistory.backfill import backfill
        from fraudops.config import get_settings

        filled = dataclasses.asdict(backfill(get_settings()))
        log.info("card-history store backfilled: %s", filled)
        return filled

    history = generate_history()
    fill_card_history(history)
    promote(train(history))


fraud_bootstrap()
