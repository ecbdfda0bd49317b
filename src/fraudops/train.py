"""Training: time-based split, a small XGBoost sweep, everything tracked in MLflow.

Each sweep config is a child run under one parent run; the best child (validation average
precision) gets the deployable pyfunc model. Lineage tags tie every run to the lake snapshot.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mlflow
import numpy as np
import xgboost as xgb

from fraudops import lake, lakeinput, modelcard, registry, tracking
from fraudops.config import Settings
from fraudops.evaluation import (
    choose_threshold,
    confusion_matrix_figure,
    cost_curve,
    cost_curve_figure,
    evaluate,
    importance_figure,
    pr_curve_figure,
)
from fraudops.features import features_from_table
from fraudops.fitting import BASE_PARAMS, NUM_BOOST_ROUND, sweep_fits, trimmed
from fraudops.model import log_model
from fraudops.monitoring import reference
from fraudops.scoring import FraudScorer
from fraudops.trainset import amounts, day_codes, labels, lineage_tags, time_split

SWEEP: tuple[dict[str, Any], ...] = (
    {"max_depth": 4, "learning_rate": 0.15, "min_child_weight": 1.0},
    {"max_depth": 6, "learning_rate": 0.10, "min_child_weight": 2.0, "subsample": 0.9},
    {"max_depth": 8, "learning_rate": 0.08, "min_child_weight": 5.0, "colsample_bytree": 0.8},
)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainResult:
    """What a sweep produced, and the registry version its best run became (once registered)."""

    parent_run_id: str
    best_run_id: str
    model_uri: str
    snapshot_id: int
    metrics: dict[str, float]
    holdout_metrics: dict[str, float]
    params: dict[str, Any]
    lineage: dict[str, str] = field(default_factory=dict)
    version: str | None = None


def _log_plots(y: np.ndarray, proba: np.ndarray, threshold: float, booster: xgb.Booster) -> None:
    mlflow.log_figure(pr_curve_figure(y, proba, threshold), "plots/pr_curve.png")
    mlflow.log_figure(confusion_matrix_figure(y, proba, threshold), "plots/confusion_matrix.png")
    scores = booster.get_score(importance_type="total_gain")
    gain = {k: float(v) for k, v in scores.items() if isinstance(v, int | float)}
    mlflow.log_figure(importance_figure(gain), "plots/feature_importance.png")
    mlflow.log_dict(gain, "feature_importance.json")


def train_sweep(
    settings: Settings,
    *,
    snapshot_id: int | None = None,
    labels_snapshot_id: int | None = None,
    configs: Sequence[dict[str, Any]] = SWEEP,
    shuffle_labels: bool = False,
    trigger: str = "manual",
    progress: Progress | None = None,
) -> TrainResult:
    """Train every config on pinned lake snapshots; log all runs; log the best as the model.

    ``snapshot_id`` pins ``fraud.transactions`` and ``labels_snapshot_id`` ``fraud.labels``
    (default: their current snapshots); ``trigger`` says why the run happened.
    """
    say = progress or (lambda _msg: None)
    client = tracking.connect(settings)
    experiment_id = tracking.ensure_experiment(client, settings)

    catalog = lake.open_catalog(settings)
    pinned = lake.pin(catalog, snapshot_id=snapshot_id)
    if labels_snapshot_id is not None:
        pinned = lake.Pinned(pinned.transactions, labels_snapshot_id)
    say(f"reading {lake.TRANSACTIONS} at snapshot {pinned.transactions}")
    # sorted by time and id: one snapshot always gives one model
    labelled = lake.read_labelled(catalog, pinned, maturity_days=settings.label_maturity_days)
    data = labelled.table
    split = time_split(data, valid_days=settings.valid_days, holdout_days=settings.holdout_days)
    x_tr, x_va, x_ho = (features_from_table(t) for t in (split.train, split.valid, split.holdout))
    y_tr, y_va, y_ho = (labels(t) for t in (split.train, split.valid, split.holdout))
    if shuffle_labels:  # a control: a model on shuffled labels must not find signal
        y_tr = np.random.default_rng(0).permutation(y_tr)
        y_va = np.random.default_rng(1).permutation(y_va)
    tags = lineage_tags(
        table=lake.TRANSACTIONS,
        snapshot_id=pinned.transactions,
        labels_snapshot_id=pinned.labels,
        data=labelled,
        split=split,
        maturity_days=settings.label_maturity_days,
        code_version=tracking.code_version(),
    )
    tags["fraudops.trigger"] = trigger
    tags["fraudops.engine"] = settings.engine.value
    if shuffle_labels:
        tags["fraudops.control"] = "shuffled-labels"
    days_va, days_ho = (day_codes(t) for t in (split.valid, split.holdout))
    budget, false_alarm = settings.alert_budget, settings.false_alarm_cost
    name = tracking.training_run_name(tags)
    tags["fraudops.alert_budget"] = str(budget)
    tags["fraudops.false_alarm_cost"] = str(false_alarm)
    costs_va: dict[str, Any] = {"amount": amounts(split.valid), "false_alarm_cost": false_alarm}
    costs_ho: dict[str, Any] = {"amount": amounts(split.holdout), "false_alarm_cost": false_alarm}

    best: tuple[float, str, FraudScorer, dict[str, Any], dict[str, float]] | None = None
    with (
        contextlib.closing(sweep_fits(settings, x_tr, y_tr, x_va, y_va, configs)) as boosters,
        tracking.failed_runs_recorded(client, settings.tracking_url) as started,
        mlflow.start_run(
            experiment_id=experiment_id, run_name=name, tags={**tags, tracking.TRAINING_RUN: "1"}
        ) as parent,
    ):
        started.append(parent.info.run_id)
        lakeinput.log_lake_input(tags)  # the Dataset column: which snapshot and label cut-off
        mlflow.log_params({"n_configs": len(configs), "train_rows": split.train.num_rows})
        for i, config in enumerate(configs, start=1):
            say(f"config {i}/{len(configs)}: {config}")
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=f"{name} #{i}", nested=True, tags=tags
            ) as child:
                started.append(child.info.run_id)
                booster = trimmed(next(boosters))
                scorer = FraudScorer(booster, threshold=0.5)
                p_va = scorer.predict_proba(x_va)
                # the threshold: the most saved a day within the analysts' alert budget
                curve = cost_curve(
                    y_va,
                    p_va,
                    costs_va["amount"],
                    n_days=len(set(days_va)),
                    false_alarm_cost=false_alarm,
                )
                scorer.threshold = choose_threshold(curve, budget)
                metrics = evaluate(
                    y_va, p_va, scorer.threshold, days=days_va, budget=budget, **costs_va
                )
                metrics["best_iteration"] = float(booster.num_boosted_rounds())
                mlflow.log_params({**BASE_PARAMS, **config, "num_boost_round": NUM_BOOST_ROUND})
                mlflow.log_metrics(metrics)
                _log_plots(y_va, p_va, scorer.threshold, booster)
                mlflow.log_figure(
                    cost_curve_figure(curve, scorer.threshold, budget), "plots/cost_curve.png"
                )
                if best is None or metrics["average_precision"] > best[0]:
                    best = (
                        metrics["average_precision"],
                        child.info.run_id,
                        scorer,
                        config,
                        metrics,
                    )
        assert best is not None
        _, best_run_id, scorer, config, metrics = best
        say(
            f"best: {best_run_id} (validation AP {metrics['average_precision']:.3f}); logging model"
        )
        p_ho = scorer.predict_proba(x_ho)
        holdout = evaluate(y_ho, p_ho, scorer.threshold, days=days_ho, budget=budget, **costs_ho)
        with mlflow.start_run(run_id=best_run_id, nested=True):
            model_uri = log_model(scorer, split.holdout.slice(0, 5))
            reference.log_reference(scorer, data)
            mlflow.log_metrics({f"holdout_{k}": v for k, v in holdout.items()})
            mlflow.set_tag("fraudops.best", "true")
        mlflow.log_params({f"best_{k}": v for k, v in config.items()})
        mlflow.log_metrics(metrics)
        mlflow.log_metrics({f"holdout_{k}": v for k, v in holdout.items()})
        mlflow.set_tag("fraudops.best_run_id", best_run_id)
    return TrainResult(
        parent_run_id=parent.info.run_id,
        best_run_id=best_run_id,
        model_uri=model_uri,
        snapshot_id=pinned.transactions,
        metrics=metrics,
        holdout_metrics=holdout,
        params=config,
        lineage=tags,
    )


def train_and_register(
    settings: Settings,
    *,
    snapshot_id: int | None = None,
    labels_snapshot_id: int | None = None,
    trigger: str = "manual",
    progress: Progress | None = None,
    configs: Sequence[dict[str, Any]] = SWEEP,
) -> TrainResult:
    """Run the sweep on pinned snapshots and register the best run: THE training step."""
    result = train_sweep(
        settings,
        snapshot_id=snapshot_id,
        labels_snapshot_id=labels_snapshot_id,
        configs=configs,
        trigger=trigger,
        progress=progress,
    )
    client = tracking.connect(settings)
    version = registry.register(
        client, settings, model_uri=result.model_uri, run_id=result.best_run_id
    )
    modelcard.publish(client, settings, version)
    if progress:
        progress(
            f"registered version {version} from run {result.best_run_id} "
            f"(holdout AP {result.holdout_metrics['average_precision']:.4f})"
        )
    return dataclasses.replace(result, version=version)
