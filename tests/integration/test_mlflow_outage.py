"""Training while the MLflow server dies: no run may be left RUNNING once it is back.

``with mlflow.start_run()`` marks a run FAILED on the way out, but that mark needs the
server: killed mid-sweep and back only after the trainer gave up, MLflow kept the runs
RUNNING for ever (found by ``make chaos``: train: MLflow killed mid-training).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from fraudops import generate, train
from tests.support.services import MlflowServer, create_database
from tests.support.settings import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_sweep_cut_off_from_mlflow_leaves_no_run_running(
    postgres: dict[str, str | int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = create_database(postgres, "mlflow_outage")
    server = MlflowServer(backend, tmp_path / "artifacts", log=tmp_path / "mlflow.log")
    server.start()
    try:
        settings = make_settings(tmp_path / "home", tracking_uri=server.uri)
        generate.generate(settings)
        # the client gives up at once (its default retries last four minutes)
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        # it comes back seconds after the sweep next calls it
        back = threading.Thread(target=lambda: (time.sleep(2), server.start()))
        real_trimmed = train.trimmed
        taken = []

        def take_while_mlflow_dies(booster: object) -> object:
            # the fits run side by side; the sweep takes each booster in its config's run
            taken.append(1)
            if len(taken) == 2:  # the second config: the server is killed under the sweep
                server.kill()
                back.start()
            return real_trimmed(booster)  # type: ignore[arg-type]

        monkeypatch.setattr(train, "trimmed", take_while_mlflow_dies)

        with pytest.raises(MlflowException):
            train.train_sweep(settings, configs=train.SWEEP[:2])

        back.join(120)
        client = MlflowClient(server.uri)
        experiment = client.get_experiment_by_name(settings.experiment)
        assert experiment is not None
        runs = client.search_runs([experiment.experiment_id])
        # children are named "<days> @ snapshot <id> #<config>", their parent without "#"
        states = {r.info.run_name.partition(" #")[2] or "parent": r.info.status for r in runs}
        assert states == {"1": "FINISHED", "2": "FAILED", "parent": "FAILED"}
    finally:
        server.stop()
