"""The sweep's fits: side by side, in the sweep's order, the same boosters as one at a time."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb

from fraudops import datagen, fitting
from fraudops.cardhistory import enrich
from fraudops.features import features_from_table
from fraudops.trainset import labels
from tests.support.settings import make_settings

CONFIGS = (
    {"max_depth": 3, "learning_rate": 0.3},
    {"max_depth": 4, "learning_rate": 0.2, "subsample": 0.9},
    {"max_depth": 5, "learning_rate": 0.1, "colsample_bytree": 0.8},
)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    train = enrich(datagen.generate_day(dt.date(2026, 1, 1), rows=4_000, fraud_rate=0.05))
    valid = enrich(datagen.generate_day(dt.date(2026, 1, 2), rows=2_000, fraud_rate=0.05))
    return features_from_table(train), labels(train), features_from_table(valid), labels(valid)


def test_the_configs_fit_at_the_same_time(
    data: tuple[np.ndarray, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every fit waits for all the others to have started: one after the other never gets there
    started = threading.Barrier(len(CONFIGS), timeout=60)
    real_fit = fitting.fit

    def fit_when_all_started(*args: Any, **kwargs: Any) -> xgb.Booster:
        started.wait()
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(fitting, "fit", fit_when_all_started)
    boosters = list(fitting.sweep_fits(make_settings(tmp_path), *data, CONFIGS))
    assert len(boosters) == len(CONFIGS)


def test_side_by_side_gives_each_config_its_own_booster_as_alone(
    data: tuple[np.ndarray, ...], tmp_path: Path
) -> None:
    x_tr, y_tr, x_va, y_va = data
    together = list(fitting.sweep_fits(make_settings(tmp_path), x_tr, y_tr, x_va, y_va, CONFIGS))
    for config, booster in zip(CONFIGS, together, strict=True):
        # alone: on plain matrices, binned by the fit itself; side by side: binned once
        dtrain, dvalid = fitting.matrix(x_tr, y_tr), fitting.matrix(x_va, y_va)
        alone = fitting.fit(dtrain, dvalid, params={**fitting.BASE_PARAMS, **config})
        assert booster.num_boosted_rounds() == alone.num_boosted_rounds()
        np.testing.assert_array_equal(booster.inplace_predict(x_va), alone.inplace_predict(x_va))
    # and a booster scores with every core afterwards, not with its share
    config = json.loads(together[0].save_config())
    assert config["learner"]["generic_param"]["nthread"] == str(fitting.cores())


def test_a_fit_takes_up_the_cores_of_fits_that_ended(
    data: tuple[np.ndarray, ...],
) -> None:
    share = fitting.CoreShare(cores=4, fits=3)
    assert share.threads() == 1  # 4 cores, 3 fits: one thread each

    class OthersEnd(xgb.callback.TrainingCallback):  # the two other fits end at round 3
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if epoch == 3:
                share.ended()
                share.ended()
            return False

    seen: list[str] = []

    class Threads(xgb.callback.TrainingCallback):  # the booster's threads after each round
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            seen.append(json.loads(model.save_config())["learner"]["generic_param"]["nthread"])
            return False

    x_tr, y_tr, x_va, y_va = data
    dtrain, dvalid = fitting.matrix(x_tr, y_tr), fitting.matrix(x_va, y_va)
    params = {**fitting.BASE_PARAMS, **CONFIGS[0], "nthread": share.threads()}
    # callbacks run in order: the others end, the share is taken up, the threads are read;
    # so rounds 0 to 3 ran on one thread, and every round after on four
    grown = fitting.fit(
        dtrain, dvalid, params=params, callbacks=[OthersEnd(), share.callback(), Threads()]
    )
    assert seen[:3] == ["1"] * 3 and set(seen[3:]) == {"4"} and len(seen) > 4
    # the same booster as on one thread throughout
    alone = fitting.fit(dtrain, dvalid, params=params)
    assert grown.num_boosted_rounds() == alone.num_boosted_rounds()
    np.testing.assert_array_equal(grown.inplace_predict(x_va), alone.inplace_predict(x_va))
