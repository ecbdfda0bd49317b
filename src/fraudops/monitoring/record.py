"""Recording a check: an MLflow run in ``fraud-monitoring`` and a row of ``fraud.model_health``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pyarrow as pa

from fraudops import lake, pushgateway, tracking
from fraudops.config import Settings
from fraudops.monitoring.check import EXPERIMENT, Check, Measured, observe_production
from fraudops.monitoring.report import write_report
from fraudops.monitoring.retrain import decide
from fraudops.monitoring.rule import Observed


def _metrics(observed: Observed) -> dict[str, float]:
    values: dict[str, float | None] = {
        "rows": observed.rows,
        "score_psi": observed.score_psi,
        "max_feature_psi": max(observed.feature_psi.values(), default=0.0),
        "matured_rows": observed.matured_rows,
        "matured_frauds": observed.matured_frauds,
        "matured_average_precision": observed.matured_ap,
        "matured_recall_at_budget": observed.matured_recall_at_budget,
        "holdout_average_precision": observed.holdout_ap,
        "holdout_recall_at_budget": observed.holdout_recall_at_budget,
        "label_coverage": observed.label_coverage,
        **{f"psi_{name}": value for name, value in observed.feature_psi.items()},
    }
    return {k: float(v) for k, v in values.items() if v is not None and np.isfinite(v)}


def _health_row(check: Check) -> pa.Table:
    o, h = check.observed, check.health
    row = {
        "checked_at": check.checked_at,
        "window_from": o.window_from,
        "window_to": o.window_to,
        "model_name": check.model_name,
        "model_version": check.model_version,
        "status": h.status.value,
        "reasons": "; ".join(h.reasons),
        "rows": o.rows,
        "score_psi": o.score_psi,
        "max_feature_psi": max(o.feature_psi.values(), default=None),
        "drifting_features": ",".join(h.drifting_features),
        "matured_rows": o.matured_rows,
        "matured_ap": o.matured_ap,
        "holdout_ap": o.holdout_ap,
        "matured_recall_at_budget": o.matured_recall_at_budget,
        "holdout_recall_at_budget": o.holdout_recall_at_budget,
        "label_coverage": o.label_coverage,
        "run_id": check.run_id,
    }
    return pa.Table.from_pylist([row], schema=lake.arrow_schema_of(lake.MODEL_HEALTH_SCHEMA))


def monitor(settings: Settings, *, as_of: dt.date | None = None, report: bool = True) -> Check:
    """Check the production model as of the end of ``as_of`` (default: the last day scored)."""
    model, day, measured, health = observe_production(settings, as_of)
    observed = measured.observed
    assert model.run_id is not None
    client = tracking.connect(settings)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment(EXPERIMENT, artifact_location=_artifacts(settings))
    )
    retrain = decide(settings, health, day)
    tags = {
        "fraudops.retrain": str(retrain.due).lower(),
        "fraudops.retrain_reason": retrain.reason,
        "fraudops.health": health.status.value,
        "fraudops.reasons": "; ".join(health.reasons)[:5000],
        "fraudops.drifting_features": ",".join(health.drifting_features),
        "fraudops.model_version": model.version,
        "fraudops.model_run_id": model.run_id,
    }
    name = f"{model.name} v{model.version} as of {day}: {health.status.value}"
    with mlflow.start_run(experiment_id=experiment_id, run_name=name, tags=tags) as run:
        mlflow.log_params(
            {
                "as_of": day.isoformat(),
                "window_days": settings.monitor_window_days,
                "decay_window_days": settings.decay_window_days,
                "psi_limit": settings.drift_psi,
            }
        )
        mlflow.log_metrics(_metrics(observed))
        mlflow.log_dict(dataclasses.asdict(health), "health.json")
        where = ""
        if report and observed.rows:
            where = _log_report(settings, measured)
    check = Check(
        as_of=day,
        model_name=model.name,
        model_version=model.version,
        observed=observed,
        health=health,
        run_id=run.info.run_id,
        report=where,
        checked_at=dt.datetime.now(dt.UTC),
        retrain=retrain,
    )
    lake.append(lake.model_health_table(lake.open_catalog(settings)), _health_row(check))
    pushgateway.push(settings, pushgateway.MONITOR_JOB, pushgateway.check_registry(check))
    return check


def _artifacts(settings: Settings) -> str | None:
    location = settings.artifact_location
    return location.replace("/artifacts", "/monitoring-artifacts") if location else None


def _log_report(settings: Settings, measured: Measured) -> str:
    with tempfile.TemporaryDirectory(prefix="fraudops-report-") as tmp:
        path = Path(tmp) / "drift_report.html"
        write_report(measured.reference, measured.current, path, psi=settings.drift_psi)
        mlflow.log_artifact(str(path), "report")
    return str(mlflow.get_artifact_uri("report/drift_report.html"))
