"""Training: time-based split, a small XGBoost sweep, everything tracked in MLflow.

Each sweep config is a child run under one parent run; the best child (validation average
precision) gets the deployable pyfunc model. Lineage tags tie every run to the lake snapshot.
"""

from __future__ import annotations

import dataclasses
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xgboost as xgb
from mlflow.models import infer_signature

from fraudops import lake, registry, tracking
from fraudops.config import Settings
from fraudops.evaluation import (
    choose_threshold,
    confusion_matrix_figure,
    evaluate,
    importance_figure,
    pr_curve_figure,
)
from fraudops.features import FEATURE_NAMES, FEATURE_TYPES, features_from_table
from fraudops.model import ENTRY_POINT, predict_frame, to_model_frame
from fraudops.monitoring import reference
from fraudops.scoring import FraudScorer
from fraudops.trainset import labels, lineage_tags, time_split

BASE_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "tree_method": "hist",
    "eval_metric": "aucpr",
    "max_cat_to_onehot": 1,
    "max_bin": 128,
    "seed": 0,
}
SWEEP: tuple[dict[str, Any], ...] = (
    {"max_depth": 4, "learning_rate": 0.15, "min_child_weight": 1.0},
    {"max_depth": 6, "learning_rate": 0.10, "min_child_weight": 2.0, "subsample": 0.9},
    {"max_depth": 8, "learning_rate": 0.08, "min_child_weight": 5.0, "colsample_bytree": 0.8},
)
NUM_BOOST_ROUND = 200
EARLY_STOPPING_ROUNDS = 25

Progress = Callable[[str], None]


def matrices(
    x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray
) -> tuple[xgb.DMatrix, xgb.DMatrix]:
    """The training and validation matrices, built once for the whole sweep.

    Every config then reuses their histogram bins (the same ``max_bin``) instead of sketching
    the data again: the same boosters, less work.
    """
    kw = {"feature_names": list(FEATURE_NAMES), "feature_types": list(FEATURE_TYPES)}
    dtrain = xgb.DMatrix(x_train, y_train, enable_categorical=True, **kw)
    dvalid = xgb.DMatrix(x_valid, y_valid, enable_categorical=True, **kw)
    return dtrain, dvalid


def fit(
    dtrain: xgb.DMatrix,
    dvalid: xgb.DMatrix,
    *,
    params: dict[str, Any],
    num_boost_round: int = NUM_BOOST_ROUND,
) -> xgb.Booster:
    """Train a booster with early stopping on the validation days."""
    return xgb.train(
        {**BASE_PARAMS, **params},
        dtrain,
        num_boost_round=num_boost_round,
        evals=[(dvalid, "valid")],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        verbose_eval=False,
    )


def trimmed(booster: xgb.Booster) -> xgb.Booster:
    """The booster cut at its best iteration (so inplace_predict needs no range)."""
    best = getattr(booster, "best_iteration", None)
    return booster if best is None else booster[: best + 1]


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


def log_model(scorer: FraudScorer, example: pa.Table) -> str:
    """Log the scorer as the deployable pyfunc (signature, input example); its model URI."""
    frame = to_model_frame(example)
    output = predict_frame(scorer, frame)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # "integer columns cannot hold missing values": the contract forbids missing values
        warnings.filterwarnings("ignore", message=".*[Ii]nteger column", category=UserWarning)
        folder = scorer.save(Path(tmp) / "scorer")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(ENTRY_POINT),  # models from code: nothing is pickled
            artifacts={"scorer": str(folder)},
            signature=infer_signature(frame, output),
            input_example=frame,
            pip_requirements=_requirements(),
        )
    return str(info.model_uri)


def _day_codes(table: pa.Table) -> np.ndarray:
    return np.asarray(pc.cast(table["event_ts"], pa.date32()).cast(pa.int32()).to_numpy())


def _requirements() -> list[str]:
    pins = []
    for dist in ("mlflow", "xgboost-cpu", "pandas", "pyarrow", "numpy", "fraudops"):
        try:
            pins.append(f"{dist}=={metadata.version(dist)}")
        except Exception:  # noqa: BLE001  (a missing distribution is simply not pinned)
            continue
    return pins


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
    if shuffle_labels:
        tags["fraudops.control"] = "shuffled-labels"
    days_va, days_ho = (_day_codes(t) for t in (split.valid, split.holdout))
    budget = settings.alert_budget

    best: tuple[float, str, FraudScorer, dict[str, Any], dict[str, float]] | None = None
    dtrain, dvalid = matrices(x_tr, y_tr, x_va, y_va)
    with (
        tracking.failed_runs_recorded(client, settings.tracking_url) as started,
        mlflow.start_run(experiment_id=experiment_id, run_name="sweep", tags=tags) as parent,
    ):
        started.append(parent.info.run_id)
        mlflow.log_params({"n_configs": len(configs), "train_rows": split.train.num_rows})
        for i, config in enumerate(configs, start=1):
            say(f"config {i}/{len(configs)}: {config}")
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=f"config-{i}", nested=True, tags=tags
            ) as child:
                started.append(child.info.run_id)
                booster = trimmed(fit(dtrain, dvalid, params=config))
                scorer = FraudScorer(booster, threshold=0.5)
                p_va = scorer.predict_proba(x_va)
                scorer.threshold = choose_threshold(y_va, p_va)
                metrics = evaluate(y_va, p_va, scorer.threshold, days=days_va, budget=budget)
                metrics["best_iteration"] = float(booster.num_boosted_rounds())
                mlflow.log_params({**BASE_PARAMS, **config, "num_boost_round": NUM_BOOST_ROUND})
                mlflow.log_metrics(metrics)
                _log_plots(y_va, p_va, scorer.threshold, booster)
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
        holdout = evaluate(y_ho, p_ho, scorer.threshold, days=days_ho, budget=budget)
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
) -> TrainResult:
    """Run the sweep on pinned snapshots and register the best run: THE training step."""
    result = train_sweep(
        settings,
        snapshot_id=snapshot_id,
        labels_snapshot_id=labels_snapshot_id,
        trigger=trigger,
        progress=progress,
    )
    client = tracking.connect(settings)
    version = registry.register(
        client, settings, model_uri=result.model_uri, run_id=result.best_run_id
    )
    if progress:
        progress(
            f"registered version {version} from run {result.best_run_id} "
            f"(holdout AP {result.holdout_metrics['average_precision']:.4f})"
        )
    return dataclasses.replace(result, version=version)
