"""A serving process loads its model without Spark, scikit-learn or MLflow's server, and
settles its environment before its threads start processes.

Run in a fresh interpreter: this one imported all of them already.
"""

from __future__ import annotations

import json

import pytest

from fraudops.config import Settings
from tests.support.api import serve_env
from tests.support.fresh import run_fresh
from tests.support.startorder import env_writes_before_last_start

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
    done = run_fresh(SERVE_ONCE, serve_env(served_settings, FRAUDOPS_PREDICTION_LOG="false"))
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"ready": 200, "loaded": []}


WRITES_ENV = """
import json, os
from fastapi.testclient import TestClient
from fraudops.api import create_app
from tests.support.startorder import record

app = create_app()
events = record()
with TestClient(app) as client:
    ready = client.get("/health/ready").status_code
print(json.dumps({"ready": ready, "events": events, "omp": os.environ.get("OMP_WAIT_POLICY")}))
"""


def test_the_api_starts_its_processes_before_its_threads_write_the_environment(
    served_settings: Settings,
) -> None:
    """The lifespan starts the committer's processes, then loads the model in a thread.

    MLflow and XGBoost write the environment as they load: no process start may overlap
    that (tests/support/startorder.py says why; the committer or the resource tracker died
    one start in three when they overlapped). ``create_app`` sets the variables the model
    libraries read before any thread runs.
    """
    env = serve_env(served_settings)
    for name in ("OMP_WAIT_POLICY", "MLFLOW_DISABLE_TELEMETRY"):  # as a new process has them
        env.pop(name, None)
    done = run_fresh(WRITES_ENV, env)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert (report["ready"], report["omp"]) == (200, "PASSIVE")
    starts = [event for event in report["events"] if event[0] == "started"]
    assert len(starts) >= 2, report["events"]  # the resource tracker and the committer
    assert env_writes_before_last_start(report["events"]) == []
