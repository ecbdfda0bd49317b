"""A shadow model scores what production answered, off the request path, and changes no answer."""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import xgboost as xgb
from fastapi.testclient import TestClient

from fraudops import lake
from fraudops.api import create_app
from fraudops.api import shadow as shadow_module
from fraudops.cardhistory import HISTORY_FEATURES
from fraudops.config import Settings
from fraudops.schema import EXAMPLE_TRANSACTION as TX
from fraudops.schema import LOGGED_KEY
from fraudops.scoring import FraudScorer, score_matrix
from tests.support.api import AUTH, RegistryCopy, as_json, transactions

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHADOW = "shadow"


def _settings(registry_copy: RegistryCopy, tmp_path: Path, name: str) -> Settings:
    """An API with its own cache, card-history store and lake (nothing shared between runs)."""
    root = tmp_path / name
    return registry_copy.settings(
        root / "cache",
        catalog_uri=f"sqlite:///{root / 'catalog.db'}",
        warehouse=(root / "warehouse").as_uri(),
        prediction_log_seconds=3600,
        model_poll_seconds=3600,
    )


def _set_shadow(registry_copy: RegistryCopy, version: str | None) -> None:
    if version is None:
        if registry_copy.client.get_registered_model(registry_copy.name).aliases.get(SHADOW):
            registry_copy.client.delete_registered_model_alias(registry_copy.name, SHADOW)
    else:
        registry_copy.client.set_registered_model_alias(registry_copy.name, SHADOW, version)


def _traffic(client: TestClient) -> list[bytes]:
    """The same requests each run: one, a batch, explained; the raw response bodies."""
    bodies = []
    for path, body in (
        ("/predict", TX),
        ("/predict", as_json(transactions(40, seed=21))),
        ("/predict?explain=true", as_json(transactions(6, seed=22))),
        ("/predict", as_json(transactions(25, seed=23))),
    ):
        resp = client.post(path, json=body, headers=AUTH)
        assert resp.status_code == 200, resp.text
        bodies.append(resp.content)
    return bodies


def _logged(settings: Settings) -> pa.Table:
    table = lake.predictions_table(lake.open_catalog(settings))
    return lake.plain_strings(table.scan().to_arrow())


def _of(rows: pa.Table, role: str) -> pa.Table:
    return rows.filter(pc.equal(rows["role"], role))


def _shadow_loaded(client: TestClient) -> Any:
    shadow = client.app.state.shadow
    client.portal.call(shadow.refresh)
    return shadow


def test_a_shadow_changes_no_answer_and_scores_the_same_transactions(
    registry_copy: RegistryCopy, tmp_path: Path
) -> None:
    registry_copy.set_alias("1")
    _set_shadow(registry_copy, None)
    alone = _settings(registry_copy, tmp_path, "alone")
    with TestClient(create_app(alone)) as client:
        assert _shadow_loaded(client).current is None
        assert client.get("/model", headers=AUTH).json()["shadow"] is None
        without = _traffic(client)

    _set_shadow(registry_copy, "2")
    shadowed = _settings(registry_copy, tmp_path, "shadowed")
    with TestClient(create_app(shadowed)) as client:
        shadow = _shadow_loaded(client)
        assert shadow.current is not None and shadow.current.version == "2"
        served = client.get("/model", headers=AUTH).json()
        assert (served["version"], served["shadow"]["version"]) == ("1", "2")
        # the shadow alerts on everything: answers that took its decisions would show it
        shadow.current = dataclasses.replace(
            shadow.current, scorer=FraudScorer(shadow.current.scorer.booster, threshold=0.0)
        )
        with_shadow = _traffic(client)
        client.portal.call(client.app.state.shadow_scorer.flush)
        metrics = client.get("/metrics").text
    _set_shadow(registry_copy, None)

    assert with_shadow == without  # byte for byte
    assert not _of(_logged(alone), SHADOW).num_rows
    rows = _logged(shadowed)
    production, shadow_rows = _of(rows, "production"), _of(rows, SHADOW)
    ids = Counter(production["transaction_id"].to_pylist())
    assert sum(ids.values()) == 1 + 40 + 6 + 25
    assert Counter(shadow_rows["transaction_id"].to_pylist()) == ids  # the same transactions
    assert set(shadow_rows["model_version"].to_pylist()) == {"2"}
    assert set(production["model_version"].to_pylist()) == {"1"}
    assert all(shadow_rows["is_fraud"].to_pylist())  # its own decisions, logged, not answered
    assert not all(production["is_fraud"].to_pylist())
    # the same feature rows (the card history computed once, for both): one booster, the
    # same scores; a shadow's row holds the key and its answers, production's the inputs
    mine = production.sort_by("transaction_id")
    theirs = shadow_rows.sort_by("transaction_id")
    np.testing.assert_array_equal(
        mine["fraud_probability"].to_numpy(), theirs["fraud_probability"].to_numpy()
    )
    for name in LOGGED_KEY:
        assert theirs[name].equals(mine[name])
    for name in ("merchant_id", "card_id", *HISTORY_FEATURES):
        assert theirs[name].null_count == theirs.num_rows
        assert mine[name].null_count == 0
    assert re.search(r"^fraudops_shadow_rows_total 72\.0$", metrics, re.M)


def test_a_failing_shadow_never_fails_a_request(
    registry_copy: RegistryCopy, tmp_path: Path
) -> None:
    registry_copy.set_alias("1")
    _set_shadow(registry_copy, "3")  # a version that does not load
    settings = _settings(registry_copy, tmp_path, "failing")
    with TestClient(create_app(settings)) as client:
        shadow = _shadow_loaded(client)
        assert shadow.current is None and "version 3" in (shadow.last_message or "")
        assert client.post("/predict", json=TX, headers=AUTH).status_code == 200

        _set_shadow(registry_copy, "2")
        loaded = _shadow_loaded(client).current
        assert loaded is not None
        # a real booster on three features: scoring the model's matrix raises in XGBoost
        data = xgb.DMatrix(np.random.default_rng(0).random((20, 3)), label=np.arange(20) % 2)
        wrong = xgb.train({"nthread": 1}, data, num_boost_round=1)
        shadow.current = dataclasses.replace(loaded, scorer=FraudScorer(wrong, threshold=0.5))
        answers = _traffic(client)
        client.portal.call(client.app.state.shadow_scorer.flush)
        metrics = client.get("/metrics").text
    _set_shadow(registry_copy, None)

    assert len(answers) == 4
    assert float(re.search(r"^fraudops_shadow_errors_total (\S+)$", metrics, re.M)[1]) >= 1
    rows = _logged(settings)
    assert not _of(rows, SHADOW).num_rows
    assert _of(rows, "production").num_rows == 1 + 1 + 40 + 6 + 25


def test_a_slow_shadow_scores_in_its_thread_and_is_skipped_not_waited_for(
    registry_copy: RegistryCopy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry_copy.set_alias("1")
    _set_shadow(registry_copy, "2")
    release = threading.Event()
    threads: list[str] = []

    def stuck(scorer: FraudScorer, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        threads.append(threading.current_thread().name)
        release.wait(timeout=30)  # a shadow far slower than the traffic
        return score_matrix(scorer, matrix)

    monkeypatch.setattr(shadow_module, "score_matrix", stuck)
    monkeypatch.setattr(shadow_module, "FLUSH_ROWS", 1)  # every batch its own call
    settings = _settings(registry_copy, tmp_path, "slow")
    sizes = [3, 4, 5, 6, 7, 8, 9]  # the first BEHIND_CALLS are taken, the others skipped
    caplog.set_level(logging.WARNING, logger=shadow_module.__name__)
    with TestClient(create_app(settings)) as client:
        assert _shadow_loaded(client).current is not None
        for n, seed in zip(sizes, range(40, 47), strict=True):
            body = as_json(transactions(n, seed=seed))
            resp = client.post("/predict", json=body, headers=AUTH)
            assert resp.status_code == 200, resp.text  # answered while the shadow is stuck
        release.set()
        client.portal.call(client.app.state.shadow_scorer.flush)
        metrics = client.get("/metrics").text
    _set_shadow(registry_copy, None)

    taken = shadow_module.BEHIND_CALLS
    assert threads and all(name.startswith("fraudops-shadow") for name in threads)
    rows = _logged(settings)
    assert _of(rows, "production").num_rows == sum(sizes)
    assert _of(rows, SHADOW).num_rows == sum(sizes[:taken])
    skipped = re.search(r"^fraudops_shadow_skipped_total (\S+)$", metrics, re.M)
    assert skipped is not None and float(skipped[1]) == sum(sizes[taken:])
    # told once (the first skip; the next within a minute are counted, not repeated)
    told = [r.getMessage() for r in caplog.records if "behind the traffic" in r.getMessage()]
    assert told == [f"shadow version 2 is behind the traffic: {sizes[taken]} transactions not "
                    "scored by it (production's answers are not affected; its shadow report "
                    "will cover fewer)"]  # fmt: skip
