"""``train --engine spark``: SparkXGBClassifier on the cluster, the same model, gate and API."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fraudops import generate, registry, tracking, train
from fraudops.api import create_app
from fraudops.engine import Engine
from fraudops.scoring import FraudScorer
from tests.spark.conftest import LOCAL, on_spark
from tests.support.api import AUTH, api_settings, as_json, transactions
from tests.support.settings import make_settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_a_spark_trained_version_passes_the_gate_and_the_api_serves_it(
    master: str, tmp_path: Path
) -> None:
    if master == LOCAL:
        pytest.skip("trained once, on the standalone cluster")
    home = make_settings(tmp_path / "home")
    generate.generate(home)

    result = train.train_and_register(on_spark(home, master), configs=train.SWEEP[:1])
    decision = registry.promote(home, version=result.version)

    assert decision.promote, decision
    run = tracking.connect(home).get_run(result.best_run_id)
    assert run.data.tags["fraudops.engine"] == Engine.SPARK.value
    scorer = registry.load_scorer(home, str(result.version))
    assert isinstance(scorer, FraudScorer)  # the native booster and its threshold
    assert result.metrics["average_precision"] > 0.3  # it learned the fraud
    settings = api_settings(home.home, tmp_path / "cache")
    with TestClient(create_app(settings)) as client:
        response = client.post("/predict", json=as_json(transactions(20)), headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == result.version
    assert len(body["predictions"]) == 20
