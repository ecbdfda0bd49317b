"""Train the model on pinned lake snapshots, register it and apply the promotion gate.

Runs when `fraud_monitor` finds the production model drifting or decayed (the asset
`fraud.model_health`), as a slow safety net on the first of each month (03:00 UTC), and on
demand. Each training run records why it ran (MLflow tag `fraudops.trigger`). A run started
by an alarm is skipped while the last training is fewer than `FRAUDOPS_RETRAIN_COOLDOWN_DAYS`
days of data old (the check's `retrain` verdict): its labels have not had time to change.

1. `pin_snapshot`: the current snapshots of `fraud.transactions` and `fraud.labels`; the rest
   of the run reads exactly those, so a retried task trains on the same data and labels.
   While the lake holds too few mature days to train (a new installation before
   `fraud_bootstrap`), the run is skipped, not failed.
2. `train`: the XGBoost sweep in MLflow (experiment `fraud-detection`); the best run becomes a
   new version of `fraud-detector`.
3. `promote`: the gate re-scores the candidate and the current `@production` version on the same
   fresh holdout and moves the alias only if the candidate is at least as good. The decision
   is in this task's log and on the model version (tags `fraudops.gate.*`).
4. With manual promotion on (`FRAUDOPS_MANUAL_PROMOTION=true`) a candidate the gate passed
   waits as `@challenger`: `approve` is a human-in-the-loop step (Browse -> Required Actions,
   or the task's Required Actions tab); once a person approves, `record_approval` moves
   `@production` and records who approved in the history (`fraudops history`); a rejection
   skips it, production stays and `record_rejection` records who rejected the version.
   Without manual promotion these steps are skipped.

Same steps as `fraudops train`, `fraudops promote` and `fraudops approve`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

log = logging.getLogger(__name__)

MODEL_HEALTH = Asset(name="fraud.model_health", uri="iceberg://fraudops/fraud/model_health")


class Approval(ApprovalOperator):
    """The approval step, keeping each answer (option, who) as XCom ``answer``.

    A rejection skips what follows, and with it the step's return value: the answer is kept
    first, so ``record_rejection`` can say who rejected.
    """

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Keep the answer, then approve or reject as ``ApprovalOperator`` does."""
        answer = {k: event.get(k) for k in ("chosen_options", "responded_by_user")}
        context["ti"].xcom_push(key="answer", value=answer)
        return super().execute_complete(context=context, event=event)


def _responder(answer: dict[str, Any] | None) -> str:
    """Who answered the approval step, as the history records it."""
    user = (answer or {}).get("responded_by_user") or {}
    return f"{user.get('name') or user.get('id') or 'unknown'} (Airflow)"


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 1 * *", timezone="UTC"), assets=[MODEL_HEALTH]
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
    def pin_snapshot(*, dag_run: Any = None, triggering_asset_events: Any = None) -> dict[str, str]:
        from airflow.sdk.exceptions import AirflowSkipException

        from fraudops import lake
        from fraudops.config import get_settings

        settings = get_settings()
        catalog = lake.open_catalog(settings)
        table = lake.transactions_table(catalog)
        have = len(lake.snapshot_days(table))
        need = settings.valid_days + settings.holdout_days + 1 + settings.label_maturity_days
        if have < need:
            # a young installation, not a failure: nothing to retry until the history exists
            raise AirflowSkipException(
                f"the lake has {have} day(s), training needs {need}: trigger fraud_bootstrap"
            )
        events = [e for found in (triggering_asset_events or {}).values() for e in found]
        if events and events[-1].extra and events[-1].extra.get("retrain") is False:
            # the check found a problem, but the last training is too recent to improve on
            raise AirflowSkipException(f"not retraining: {events[-1].extra.get('retrain_reason')}")
        pinned = lake.pin(catalog)
        if events:
            extra = events[-1].extra or {}
            trigger = f"fraud_monitor {extra.get('as_of')}: {extra.get('status')}: " + "; ".join(
                extra.get("reasons") or []
            )
        else:
            trigger = f"{dag_run.run_type}".split(".")[-1].lower() if dag_run else "manual"
        log.info("training on %s (%d days), because %s", pinned, have, trigger)
        # strings: 64-bit ids lose digits in the UI's JSON view
        return {
            "snapshot_id": str(pinned.transactions),
            "labels_snapshot_id": str(pinned.labels),
            "trigger": trigger[:500],
        }

    @task(execution_timeout=timedelta(hours=2))
    def train(pinned: dict[str, str]) -> str:
        from fraudops.config import get_settings
        from fraudops.train import train_and_register

        labels = pinned["labels_snapshot_id"]
        result = train_and_register(
            get_settings(),
            snapshot_id=int(pinned["snapshot_id"]),
            labels_snapshot_id=None if labels == "None" else int(labels),
            trigger=pinned["trigger"],
            progress=log.info,
        )
        return str(result.version)

    @task
    def promote(version: str) -> dict[str, Any]:
        from fraudops import registry
        from fraudops.config import get_settings

        decision = registry.promote(
            get_settings(), version=version, by="airflow:fraud_train_and_promote"
        )
        log.info("gate: %s version %s: %s", decision.verdict, version, decision.reason)
        return decision.summary()

    @task.short_circuit
    def awaits_approval(decision: dict[str, Any]) -> bool:
        return bool(decision.get("awaiting_approval"))

    approve = Approval(
        task_id="approve",
        subject="Promote {{ ti.xcom_pull(task_ids='train') }} to production?",
        body=(
            "The gate passed version {{ ti.xcom_pull(task_ids='train') }}: "
            "{{ ti.xcom_pull(task_ids='promote')['reason'] }}. Approve to move @production "
            "to it; reject to keep the current version."
        ),
    )

    @task
    def record_approval(version: str, *, ti: Any = None) -> str:
        from fraudops.config import get_settings
        from fraudops.release import approve as approve_version

        who = _responder(ti.xcom_pull(task_ids="approve", key="answer"))
        event = approve_version(get_settings(), version, by=who)
        log.info("%s version %s (was %s)", event.reason, event.version, event.previous)
        return who

    # its one upstream is record_approval: it runs when that was skipped, which a rejection
    # does, and so does a run with nothing to train (then it skips itself too)
    @task(trigger_rule="all_skipped")
    def record_rejection(*, ti: Any = None) -> str:
        from airflow.sdk.exceptions import AirflowSkipException

        from fraudops.config import get_settings
        from fraudops.release import reject

        answer = ti.xcom_pull(task_ids="approve", key="answer") or {}
        if answer.get("chosen_options") != [Approval.REJECT]:
            raise AirflowSkipException("nobody rejected a version in this run")
        who = _responder(answer)
        event = reject(get_settings(), ti.xcom_pull(task_ids="train"), by=who)
        log.info("%s; production stays on version %s", event.reason, event.previous)
        return event.by

    version = train(pin_snapshot())
    decision = promote(version)
    approved = awaits_approval(decision) >> approve >> record_approval(version)
    approved >> record_rejection()


fraud_train_and_promote()
