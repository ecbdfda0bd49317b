"""Training: time-based split, a small XGBoost sweep, everything tracked in MLflow.

Each sweep config is a child run under one parent run; the best child (validation average
precision) gets the deployable pyfunc model. Lineage tags tie every run to the lake snapshot.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xgboost as xgb

from fraudops import lake
from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.evaluation import (
    choose_threshold,
    confusion_matrix_figure,
    evaluate,
    importance_figure,
    pr_curve_figure,
)
from fraudops.features import FEATURE_NAMES, FEATURE_TYPES, features_from_table
from fraudops.model import FraudModel, FraudScorer, to_model_frame
from fraudops.schema import LABEL

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


@dataclass(frozen=True)
class Split:
    """A time-based split: train on older days, validate, hold out the most recent ones."""

    train: pa.Table
    valid: pa.Table
    holdout: pa.Table
    train_days: list[dt.date]
    valid_days: list[dt.date]
    holdout_days: list[dt.date]


def time_split(table: pa.Table, *, valid_days: int, holdout_days: int) -> Split:
    """Split by day of ``event_ts``; never a random split across time."""
    day = pc.cast(table["event_ts"], pa.date32())
    days = sorted(pc.unique(day).to_pylist())
    if len(days) < valid_days + holdout_days + 1:
        raise FraudOpsError(
            f"training needs at least {valid_days + holdout_days + 1} days of data "
            f"({valid_days} validation + {holdout_days} holdout + 1 train); "
            f"the lake has {len(days)}."
        )
    hold = days[-holdout_days:]
    val = days[-(holdout_days + valid_days) : -holdout_days]
    train = days[: -(holdout_days + valid_days)]

    def pick(ds: list[dt.date]) -> pa.Table:
        return table.filter(pc.is_in(day, value_set=pa.array(ds, pa.date32())))

    return Split(pick(train), pick(val), pick(hold), train, val, hold)


def labels(table: pa.Table) -> np.ndarray:
    """The ``is_fraud`` label as a numpy int array."""
    return np.asarray(table[LABEL.name].to_numpy(), dtype=np.int32)


def fit(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    *,
    params: dict[str, Any],
    num_boost_round: int = NUM_BOOST_ROUND,
) -> xgb.Booster:
    """Train a booster with early stopping on the validation days."""
    kw = {"feature_names": list(FEATURE_NAMES), "feature_types": list(FEATURE_TYPES)}
    dtrain = xgb.DMatrix(x_train, y_train, enable_categorical=True, **kw)
    dvalid = xgb.DMatrix(x_valid, y_valid, enable_categorical=True, **kw)
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
    if best is None:
        return booster
    return booster[: best + 1]


@dataclass
class TrainResult:
    """What a sweep produced."""

    parent_run_id: str
    best_run_id: str
    model_uri: str
    snapshot_id: int
    metrics: dict[str, float]
    holdout_metrics: dict[str, float]
    params: dict[str, Any]
    lineage: dict[str, str] = field(default_factory=dict)


def lineage_tags(
    *, table: str, snapshot_id: int, data: pa.Table, split: Split, code_version: str
) -> dict[str, str]:
    """The tags that tie a run to the exact lake data it saw."""
    all_days = split.train_days + split.valid_days + split.holdout_days
    return {
        "fraudops.lake_table": table,
        "fraudops.snapshot_id": str(snapshot_id),
        "fraudops.rows": str(data.num_rows),
        "fraudops.fraud_rate": f"{float(pc.mean(data[LABEL.name]).as_py()):.5f}",
        "fraudops.date_from": min(all_days).isoformat(),
        "fraudops.date_to": max(all_days).isoformat(),
        "fraudops.train_days": f"{split.train_days[0]}..{split.train_days[-1]}",
        "fraudops.valid_days": f"{split.valid_days[0]}..{split.valid_days[-1]}",
        "fraudops.holdout_days": f"{split.holdout_days[0]}..{split.holdout_days[-1]}",
        "fraudops.code_version": code_version,
    }


def _log_plots(y: np.ndarray, proba: np.ndarray, threshold: float, booster: xgb.Booster) -> None:
    import mlflow

    mlflow.log_figure(pr_curve_figure(y, proba, threshold), "plots/pr_curve.png")
    mlflow.log_figure(confusion_matrix_figure(y, proba, threshold), "plots/confusion_matrix.png")
    scores = booster.get_score(importance_type="total_gain")
    gain = {k: float(v) for k, v in scores.items() if isinstance(v, int | float)}
    mlflow.log_figure(importance_figure(gain), "plots/feature_importance.png")
    mlflow.log_dict(gain, "feature_importance.json")


def _log_model(scorer: FraudScorer, example: pa.Table) -> str:
    import mlflow
    from mlflow.models import infer_signature

    frame = to_model_frame(example)
    output = FraudModel.predict_with(scorer, frame)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # "integer columns cannot hold missing values": the contract forbids missing values
        warnings.filterwarnings("ignore", message=".*[Ii]nteger column", category=UserWarning)
        folder = scorer.save(Path(tmp) / "scorer")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=FraudModel(),
            artifacts={"scorer": str(folder)},
            signature=infer_signature(frame, output),
            input_example=frame,
            pip_requirements=_requirements(),
        )
    return str(info.model_uri)


def _requirements() -> list[str]:
    from importlib.metadata import version

    pins = []
    for dist in ("mlflow", "xgboost-cpu", "pandas", "pyarrow", "numpy", "fraudops"):
        try:
            pins.append(f"{dist}=={version(dist)}")
        except Exception:  # noqa: BLE001  (a missing distribution is simply not pinned)
            continue
    return pins


def train_sweep(
    settings: Settings,
    *,
    snapshot_id: int | None = None,
    configs: Sequence[dict[str, Any]] = SWEEP,
    shuffle_labels: bool = False,
    progress: Progress | None = None,
) -> TrainResult:
    """Train every config on a pinned lake snapshot; log all runs; log the best as the model."""
    import mlflow

    from fraudops.tracking import code_version, connect, ensure_experiment

    say = progress or (lambda _msg: None)
    client = connect(settings)
    experiment_id = ensure_experiment(client, settings)

    table = lake.transactions_table(lake.open_catalog(settings))
    snap = table.snapshot_by_id(snapshot_id) if snapshot_id else table.current_snapshot()
    if snap is None:
        raise FraudOpsError("the lake is empty: run `fraudops generate` first.")
    say(f"reading {lake.TRANSACTIONS} at snapshot {snap.snapshot_id}")
    # a scan's row order depends on file layout: sort so one snapshot always gives one model
    data = lake.read_transactions(table, snapshot_id=snap.snapshot_id).sort_by(
        [("event_ts", "ascending"), ("transaction_id", "ascending")]
    )
    split = time_split(data, valid_days=settings.valid_days, holdout_days=settings.holdout_days)
    x_tr, x_va, x_ho = (features_from_table(t) for t in (split.train, split.valid, split.holdout))
    y_tr, y_va, y_ho = (labels(t) for t in (split.train, split.valid, split.holdout))
    if shuffle_labels:  # a control: a model on shuffled labels must not find signal
        y_tr = np.random.default_rng(0).permutation(y_tr)
        y_va = np.random.default_rng(1).permutation(y_va)
    tags = lineage_tags(
        table=lake.TRANSACTIONS,
        snapshot_id=snap.snapshot_id,
        data=data,
        split=split,
        code_version=code_version(),
    )
    if shuffle_labels:
        tags["fraudops.control"] = "shuffled-labels"

    best: tuple[float, str, FraudScorer, dict[str, Any], dict[str, float]] | None = None
    with mlflow.start_run(experiment_id=experiment_id, run_name="sweep", tags=tags) as parent:
        mlflow.log_params({"n_configs": len(configs), "train_rows": split.train.num_rows})
        for i, config in enumerate(configs, start=1):
            say(f"config {i}/{len(configs)}: {config}")
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=f"config-{i}", nested=True, tags=tags
            ) as child:
                booster = trimmed(fit(x_tr, y_tr, x_va, y_va, params=config))
                scorer = FraudScorer(booster, threshold=0.5)
                p_va = scorer.predict_proba(x_va)
                scorer.threshold = choose_threshold(y_va, p_va)
                metrics = evaluate(y_va, p_va, scorer.threshold)
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
        holdout = evaluate(y_ho, scorer.predict_proba(x_ho), scorer.threshold)
        with mlflow.start_run(run_id=best_run_id, nested=True):
            model_uri = _log_model(scorer, split.holdout.slice(0, 5))
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
        snapshot_id=snap.snapshot_id,
        metrics=metrics,
        holdout_metrics=holdout,
        params=config,
        lineage=tags,
    )
