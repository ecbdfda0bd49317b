"""When an alarm retrains: not before new labels have had time to arrive.

A drift or decay persists for days; the labels that show what changed take the maturity
window to reach training. Retraining on every alarm would only repeat the last training, so
an alarm retrains when the last finished training's label cut-off is at least
``retrain_cooldown_days`` days of data behind the day checked. Counted in data time (event
days), not wall-clock time: a backfill or a simulation gets the same answer as a live run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fraudops import tracking
from fraudops.config import Settings
from fraudops.monitoring.rule import Health


@dataclass(frozen=True)
class RetrainDecision:
    """Whether a check's verdict should start a training run, and why."""

    due: bool
    reason: str


def last_label_cutoff(settings: Settings) -> dt.datetime | None:
    """The label cut-off of the latest finished training (None: never trained)."""
    client = tracking.connect(settings)
    experiment = client.get_experiment_by_name(settings.experiment)
    if experiment is None:
        return None
    # training runs carry a tag; those logged before they were named for their data, "sweep"
    runs = [
        run
        for found in (f"tags.`{tracking.TRAINING_RUN}` = '1'", "attributes.run_name = 'sweep'")
        for run in client.search_runs(
            [experiment.experiment_id],
            filter_string=f"{found} and attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=50,
        )
    ]
    cutoffs = [
        dt.datetime.fromisoformat(r.data.tags["fraudops.label_cutoff"])
        for r in runs
        if "fraudops.label_cutoff" in r.data.tags
    ]
    return max(cutoffs, default=None)


def decide(settings: Settings, health: Health, as_of: dt.date) -> RetrainDecision:
    """Retrain on an alarm, unless the last training saw data too recent to learn more from."""
    if not health.alarm:
        return RetrainDecision(False, f"{health.status.value}: no retraining")
    cutoff = last_label_cutoff(settings)
    if cutoff is None:
        return RetrainDecision(True, f"{health.status.value}; never trained")
    new_days = (as_of + dt.timedelta(days=1) - cutoff.date()).days
    if new_days < settings.retrain_cooldown_days:
        return RetrainDecision(
            False,
            f"{health.status.value}, but the last training had labels up to {cutoff.date()}: "
            f"{new_days} new day(s) of data < {settings.retrain_cooldown_days}",
        )
    return RetrainDecision(
        True, f"{health.status.value}; {new_days} new day(s) of data since the last training"
    )
