"""Airflow fixtures: a throwaway AIRFLOW_HOME whose SQLite metadata database is migrated once
per session, and ``run_dags`` to run DAGs with ``dag.test()`` in a child process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fraudops import airflow_local
from fraudops.config import Settings
from tests.support.airflow_env import RunDags, call_runner, dag_settings, env_for


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AIRFLOW_HOME for the session (nothing migrated yet)."""
    return tmp_path_factory.mktemp("airflow")


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's metadata database, created with ``airflow db migrate``."""
    settings = dag_settings(tmp_path_factory.mktemp("migrate") / "home")
    airflow_local.migrate(env_for(settings, airflow_home))
    return airflow_home


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
