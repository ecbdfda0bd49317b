"""What batch jobs push for Prometheus: the figures' names and labels, and a gateway away."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fraudops import pushgateway
from fraudops.inbox.report import InboxSummary
from fraudops.monitoring import Check, Health, HealthStatus, Observed, RetrainDecision
from fraudops.procs import free_port
from tests.support.settings import make_settings

DAY = dt.date(2026, 3, 1)
CHECK = Check(
    as_of=DAY,
    model_name="fraud-detector",
    model_version="3",
    observed=Observed(
        window_from=DAY,
        window_to=DAY,
        rows=20_000,
        feature_psi={"channel": 0.41, "hour": 0.02},
        score_psi=0.05,
        matured_rows=140_000,
        matured_frauds=0,
        matured_ap=None,
        matured_recall_at_budget=None,
        holdout_ap=0.74,
        holdout_recall_at_budget=0.56,
        label_coverage=0.62,
    ),
    health=Health(HealthStatus.DRIFTING, ["channel PSI 0.410 > 0.2"], ["channel"]),
    run_id="abc",
    report="",
    checked_at=dt.datetime(2026, 3, 2, 4, 0, tzinfo=dt.UTC),
    retrain=RetrainDecision(True, "drifting; 7 new day(s) of data since the last training"),
)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_check_pushes_its_verdict_drift_and_coverage():
    got = _samples(pushgateway.check_registry(CHECK))
    model = {("model", "fraud-detector"), ("version", "3")}

    def value(name: str, **labels: str) -> float:
        return got[(name, frozenset(model | set(labels.items())))]

    assert value("fraudops_model_health", status="drifting") == 1
    assert value("fraudops_model_health", status="healthy") == 0
    assert value("fraudops_feature_psi", feature="channel") == 0.41
    assert value("fraudops_label_coverage") == 0.62
    # the end of 2026-03-01, UTC
    assert value("fraudops_monitor_as_of_timestamp_seconds") == 1_772_409_600
    names = {name for name, _ in got}
    assert "fraudops_matured_average_precision" not in names  # not judged: no series at all


def test_an_inbox_run_pushes_rows_and_files_by_outcome():
    summary = InboxSummary(
        inbox="file:///x",
        files=4,
        rows_scored=1_990,
        rows_rejected=10,
        files_quarantined=1,
        duplicates=1,
        failed=0,
        seconds=1.5,
        outbox="file:///x/outbox",
    )
    got = _samples(pushgateway.inbox_registry(summary))

    def value(name: str, outcome: str) -> float:
        return got[(name, frozenset({("outcome", outcome)}))]

    assert value("fraudops_inbox_run_rows", "scored") == 1_990
    assert value("fraudops_inbox_run_rows", "rejected") == 10
    assert value("fraudops_inbox_run_files", "scored") == 2
    assert value("fraudops_inbox_run_files", "quarantined") == 1
    assert value("fraudops_inbox_run_files", "duplicate") == 1


def test_no_pushgateway_configured_pushes_nothing(tmp_path):
    settings = make_settings(tmp_path)
    assert pushgateway.push(settings, "job", pushgateway.check_registry(CHECK)) is False


def test_a_pushgateway_away_costs_a_warning_not_the_job(tmp_path, caplog: pytest.LogCaptureFixture):
    url = f"http://user:secret@127.0.0.1:{free_port()}"
    settings = make_settings(tmp_path, pushgateway_url=url)
    with caplog.at_level(logging.WARNING, logger="fraudops.pushgateway"):
        assert pushgateway.push(settings, "job", pushgateway.check_registry(CHECK)) is False
    assert "could not push job figures" in caplog.text
    assert "secret" not in caplog.text
