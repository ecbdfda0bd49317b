"""A serving process loads its model without Spark, scikit-learn or MLflow's server.

Run in a fresh interpreter: this one imported all of them already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fraudops.config import Settings
from tests.support.api import serve_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# SciPy itself stays: XGBoost needs scipy.sparse; scipy.stats comes with scikit-learn
UNWANTED = ("pyspark", "sklearn", "scipy.stats", "mlflow.server")

SERVE_ONCE = f"""
import json, sys
from fastapi.testclient import TestClient
from fraudops.api import create_app

with TestClient(create_app()) as client:
    ready = client.get("/health/ready").status_code
print(json.dumps({{"ready": ready, "loaded": [m for m in {UNWANTED!r} if m in sys.modules]}}))
"""


def test_the_api_loads_its_model_without_spark_sklearn_or_the_mlflow_server(
    served_settings: Settings,
) -> None:
    env = serve_env(served_settings, FRAUDOPS_PREDICTION_LOG="false")
    done = subprocess.run(
        [sys.executable, "-c", SERVE_ONCE],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"ready": 200, "loaded": []}
