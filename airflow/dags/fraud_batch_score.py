"""Score the CSV files dropped in the inbox with the production model.

Nightly at 02:00 UTC, and on demand. Takes each file in `inbox/incoming/` once, validates
every row, scores the valid rows with `fraud-detector@production` and publishes
`outbox/<name>.scored.csv`; rejected rows go to `<name>.rejected.csv`, unreadable files to
`quarantine/`. A content-hash ledger makes a retry or rerun score each file exactly once.

Same step as `fraudops score-inbox`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

log = logging.getLogger(__name__)


@dag(
    schedule=CronTriggerTimetable("0 2 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["fraudops", "scoring"],
    default_args={"owner": "fraudops", "retries": 2, "retry_delay": timedelta(minutes=2)},
    doc_md=__doc__,
)
def fraud_batch_score() -> None:
    @task(execution_timeout=timedelta(hours=1))
    def score_inbox() -> dict[str, Any]:
        from fraudops import inbox
        from fraudops.config import get_settings

        summary = inbox.score_inbox(get_settings())
        log.info("inbox scored: %s", summary.as_dict())
        if summary.failed:  # scored what it could; the retry finishes the files left in flight
            reasons = "; ".join(f"{r.file}: {r.reason}" for r in summary.reports if r.reason)
            raise RuntimeError(f"{summary.failed} file(s) failed: {reasons}")
        return summary.as_dict()

    score_inbox()


fraud_batch_score()
