"""Airflow for the DAG tests: a throwaway AIRFLOW_HOME, its SQLite metadata database migrated
once per session, and a helper that runs DAGs in a child process with ``dag.test()``.

Airflow reads its configuration when first imported, so it never runs inside the pytest
process: every Airflow step is a subprocess given the environment that ``fraudops airflow``
would give it (``orchestration.airflow_env``), pointed at a temporary home.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fraudops import orchestration
from fraudops.config import Settings
from tests.conftest import make_settings

RUNNER = Path(__file__).with_name("airflow_runner.py")
ROWS_PER_DAY = 3_000  # with SMALL's 10 days: 30k rows, a sweep in ~15 s


def clean_environ() -> dict[str, str]:
    """This process's environment without a developer's Airflow/FraudOps/MLflow settings."""
    prefixes = ("AIRFLOW", "FRAUDOPS_", "MLFLOW_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def dag_settings(home: Path) -> Settings:
    """Small embedded settings for a DAG run."""
    return make_settings(home, rows_per_day=ROWS_PER_DAY)


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AIRFLOW_HOME for the session (nothing migrated yet)."""
    return tmp_path_factory.mktemp("airflow")


def env_for(settings: Settings, airflow_home: Path) -> dict[str, str]:
    """Environment of an Airflow child process: the session's home, the run's settings."""
    return orchestration.airflow_env(settings, home=airflow_home, base=clean_environ())


def call_runner(env: dict[str, str], *args: str, log: Path, timeout: float = 240) -> Any:
    """Run the runner script; return its result, or fail with the end of its output."""
    with open(log, "w") as out:
        done = subprocess.run(
            [sys.executable, str(RUNNER), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    lines = log.read_text(errors="replace").splitlines()
    results = [line for line in lines if line.startswith("RESULT ")]
    if done.returncode != 0 or not results:
        tail = "\n".join(lines[-40:])
        pytest.fail(f"airflow runner {args[0]} exited with {done.returncode}:\n{tail}")
    return json.loads(results[-1].removeprefix("RESULT "))


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's metadata database, created with ``airflow db migrate``."""
    settings = dag_settings(tmp_path_factory.mktemp("migrate") / "home")
    orchestration.migrate(env_for(settings, airflow_home))
    return airflow_home


RunDags = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def run_dags(airflow_db: Path) -> RunDags:
    """Run DAGs with ``dag.test()`` against a FraudOps home: ``run_dags(settings, runs)``.

    Each run is ``{"dag_id": ..., "logical_date": "YYYY-MM-DD" | None, "conf": {...}}``; the
    result per run has its state, task states, return values and emitted asset events.
    """

    def run(settings: Settings, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        log = settings.home_dir.parent / f"dag-test-{runs[0]['dag_id']}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        return call_runner(env_for(settings, airflow_db), "run", json.dumps(runs), log=log)

    return run
