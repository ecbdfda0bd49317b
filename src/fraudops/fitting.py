"""Fitting a sweep's boosters: XGBoost on this machine's cores, or on Spark executors.

Training (:mod:`fraudops.train`) takes each config's booster from :func:`sweep_fits`, in the
sweep's order; each booster is then cut at its best iteration (:func:`trimmed`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import xgboost as xgb

from fraudops.config import Settings
from fraudops.engine import Engine
from fraudops.features import FEATURE_NAMES, FEATURE_TYPES
from fraudops.stopping import EarlyStopping

BASE_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "tree_method": "hist",
    "eval_metric": "aucpr",
    "max_cat_to_onehot": 1,
    "max_bin": 128,
    "seed": 0,
}
NUM_BOOST_ROUND = 200
EARLY_STOPPING_ROUNDS = 25


def _described() -> dict[str, Any]:
    """What XGBoost is told of the model matrix's columns: names, types, categories."""
    return {
        "feature_names": list(FEATURE_NAMES),
        "feature_types": list(FEATURE_TYPES),
        "enable_categorical": True,
    }


def matrix(x: np.ndarray, y: np.ndarray) -> xgb.DMatrix:
    """A model matrix and its labels as XGBoost's DMatrix, with the features' names and types."""
    return xgb.DMatrix(x, y, **_described())


def training_matrix(x: np.ndarray, y: np.ndarray, *, max_bin: int, nthread: int) -> xgb.DMatrix:
    """The training rows already cut into ``max_bin`` histogram bins (XGBoost's hist input).

    One is built for a whole sweep and read by every fit side by side: the bins are what
    each fit would otherwise sketch on its own, and a fit only reads them.
    """
    return xgb.QuantileDMatrix(x, y, max_bin=max_bin, nthread=nthread, **_described())


class CoreShare:
    """The cores shared by the fits of a sweep running side by side.

    Each running fit gets an even share (at least one thread); when a fit ends, the ones
    still running take up its cores from their next round on (:meth:`callback`), so the
    longest fit of a sweep does not finish alone on one core while the others sit idle.
    """

    def __init__(self, cores: int, fits: int) -> None:
        self.cores = cores
        self._running = fits
        self._lock = threading.Lock()

    def threads(self) -> int:
        """A running fit's share of the cores now."""
        with self._lock:
            return max(1, self.cores // max(self._running, 1))

    def ended(self) -> None:
        """A fit has ended: its cores go to the others."""
        with self._lock:
            self._running -= 1

    def callback(self) -> xgb.callback.TrainingCallback:
        """A fit's callback that sets its booster's threads to its share after each round."""
        return _TakeUpCores(self)


class _TakeUpCores(xgb.callback.TrainingCallback):
    """After each round: the booster's threads set to its fit's share of the cores now."""

    def __init__(self, share: CoreShare) -> None:
        super().__init__()
        self.share = share
        self.nthread = 0

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        threads = self.share.threads()
        if threads != self.nthread:
            model.set_param({"nthread": threads})
            self.nthread = threads
        return False


def fit(
    dtrain: xgb.DMatrix,
    dvalid: xgb.DMatrix,
    *,
    params: dict[str, Any],
    num_boost_round: int = NUM_BOOST_ROUND,
    callbacks: Sequence[xgb.callback.TrainingCallback] = (),
) -> xgb.Booster:
    """Train a booster with early stopping on the validation days' ``aucpr``.

    The metric is computed by :mod:`fraudops.stopping` (XGBoost's own figure, cheaper), so
    XGBoost is given no evaluation set to score; the booster is the one
    ``early_stopping_rounds`` would give. ``callbacks`` run after the stopping's, each round
    (:meth:`CoreShare.callback`).
    """
    if params.get("eval_metric", BASE_PARAMS["eval_metric"]) != "aucpr":
        raise ValueError("early stopping is on aucpr")
    stop = EarlyStopping(dvalid, rounds=EARLY_STOPPING_ROUNDS)
    return xgb.train(
        {**BASE_PARAMS, **params},
        dtrain,
        num_boost_round=num_boost_round,
        callbacks=[stop, *callbacks],
        verbose_eval=False,
    )


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def sweep_fits(
    settings: Settings,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    configs: Sequence[dict[str, Any]],
) -> Generator[xgb.Booster]:
    """Each config's booster (``BASE_PARAMS`` and the config), in the order of ``configs``.

    In process, the training rows are binned once (:func:`training_matrix`, on every core),
    then every config starts at once, each on its own share of the cores (``nthread``,
    growing as the other fits end: :class:`CoreShare`):
    XGBoost's threads barely scale on a small sweep of a few hundred thousand rows (and spin
    when other processes load the machine), while fits side by side do. Each fit scores its
    own validation matrix. The boosters are the same as one after the other: a fit is
    deterministic for its data and params, whatever its threads. On Spark, the executors fit
    one config after another.
    """
    params = [{**BASE_PARAMS, **config} for config in configs]
    if settings.engine is Engine.SPARK:
        from fraudops.spark.train import fit_on_spark  # pyspark: only when asked

        for p in params:
            yield fit_on_spark(
                settings,
                x_train,
                y_train,
                x_valid,
                y_valid,
                params=p,
                num_boost_round=NUM_BOOST_ROUND,
                early_stopping_rounds=EARLY_STOPPING_ROUNDS,
            )
        return
    n = cores()
    share = CoreShare(n, len(params))
    binned = {
        max_bin: training_matrix(x_train, y_train, max_bin=max_bin, nthread=n)
        for max_bin in sorted({p["max_bin"] for p in params})
    }

    def one(p: dict[str, Any]) -> xgb.Booster:
        try:
            booster = fit(
                binned[p["max_bin"]],
                matrix(x_valid, y_valid),
                params={**p, "nthread": share.threads()},
                callbacks=[share.callback()],
            )
        finally:
            share.ended()
        booster.set_param({"nthread": n})  # scoring with it afterwards takes every core
        return booster

    with ThreadPoolExecutor(max(len(params), 1), thread_name_prefix="fraudops-fit") as pool:
        futures = [pool.submit(one, p) for p in params]
        try:
            for future in futures:
                yield future.result()
        finally:  # a failed sweep waits for no fit that has not started
            for future in futures:
                future.cancel()


def trimmed(booster: xgb.Booster) -> xgb.Booster:
    """The booster cut at its best iteration (so inplace_predict needs no range)."""
    best = getattr(booster, "best_iteration", None)
    return booster if best is None else booster[: best + 1]
