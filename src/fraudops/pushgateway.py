"""Batch jobs' figures for Prometheus: pushed to a Pushgateway, since a job ends before a scrape.

The API is scraped; a monitoring check or an inbox run is over in minutes, so each pushes
its figures as gauges, grouped by job (a push replaces the job's previous figures).
Prometheus scrapes the Pushgateway and keeps the series over time: drift per feature,
matured AP and label coverage from the checks, rows and files per inbox run. A
Pushgateway that does not answer costs a warning, never the job.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from fraudops.config import Settings
from fraudops.errors import redact

if TYPE_CHECKING:
    from fraudops.inbox.report import InboxSummary
    from fraudops.monitoring import Check

log = logging.getLogger(__name__)

MONITOR_JOB = "fraudops_monitor"
INBOX_JOB = "fraudops_inbox"
STATUSES = ("healthy", "drifting", "decayed", "unknown")


def check_registry(check: Check) -> CollectorRegistry:
    """A check's figures as gauges (labelled with the model and version checked)."""
    registry = CollectorRegistry()
    model = {"model": check.model_name, "version": check.model_version}
    o = check.observed

    def gauge(name: str, doc: str, value: float | None, **labels: str) -> None:
        if value is None:
            return
        g = Gauge(name, doc, [*model, *labels], registry=registry)
        g.labels(**model, **labels).set(value)

    status = Gauge(
        "fraudops_model_health",
        "The last check's verdict: 1 for its status, 0 for the others.",
        [*model, "status"],
        registry=registry,
    )
    for name in STATUSES:
        status.labels(**model, status=name).set(1 if check.health.status.value == name else 0)
    psi = Gauge(
        "fraudops_feature_psi",
        "PSI of a feature in the window.",
        [*model, "feature"],
        registry=registry,
    )
    for feature, value in o.feature_psi.items():
        psi.labels(**model, feature=feature).set(value)
    gauge("fraudops_score_psi", "PSI of the fraud probability in the window.", o.score_psi)
    gauge("fraudops_monitor_window_rows", "Predictions in the drift window.", o.rows)
    gauge("fraudops_matured_rows", "Matured predictions the decay check used.", o.matured_rows)
    gauge("fraudops_matured_average_precision", "AP on matured labels.", o.matured_ap)
    gauge("fraudops_holdout_average_precision", "The version's holdout AP.", o.holdout_ap)
    gauge(
        "fraudops_matured_recall_at_budget",
        "Recall at the alert budget on matured labels.",
        o.matured_recall_at_budget,
    )
    gauge(
        "fraudops_label_coverage",
        "Share of recent predictions with a known label.",
        o.label_coverage,
    )
    gauge(
        "fraudops_monitor_as_of_timestamp_seconds",
        "The last day the check covered (its end, Unix time).",
        dt.datetime.combine(o.window_to + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp(),
    )
    gauge(
        "fraudops_monitor_last_check_timestamp_seconds",
        "When the check ran.",
        check.checked_at.timestamp(),
    )
    return registry


def inbox_registry(summary: InboxSummary) -> CollectorRegistry:
    """An inbox run's figures as gauges."""
    registry = CollectorRegistry()
    rows = Gauge(
        "fraudops_inbox_run_rows",
        "Rows of the last inbox run, by outcome.",
        ["outcome"],
        registry=registry,
    )
    rows.labels(outcome="scored").set(summary.rows_scored)
    rows.labels(outcome="rejected").set(summary.rows_rejected)
    files = Gauge(
        "fraudops_inbox_run_files",
        "Files of the last inbox run, by outcome.",
        ["outcome"],
        registry=registry,
    )
    quarantined, duplicates = summary.files_quarantined, summary.duplicates
    files.labels(outcome="scored").set(summary.files - quarantined - duplicates)
    files.labels(outcome="quarantined").set(quarantined)
    files.labels(outcome="duplicate").set(duplicates)
    files.labels(outcome="failed").set(summary.failed)
    Gauge("fraudops_inbox_run_seconds", "How long the last inbox run took.", registry=registry).set(
        summary.seconds
    )
    Gauge(
        "fraudops_inbox_last_run_timestamp_seconds",
        "When the last inbox run ended.",
        registry=registry,
    ).set_to_current_time()
    return registry


def push(settings: Settings, job: str, registry: CollectorRegistry) -> bool:
    """Push a job's figures, if a Pushgateway is configured; False when it did not take them."""
    if not settings.pushgateway_url:
        return False
    try:
        push_to_gateway(settings.pushgateway_url, job=job, registry=registry, timeout=5)
    except OSError as exc:  # URLError and friends: the job's own work is done and kept
        log.warning(
            "could not push %s figures to %s: %s", job, redact(settings.pushgateway_url), exc
        )
        return False
    return True
