"""Airflow for the tests: its environment, and DAG runs with ``dag.test()`` in a child process.

Airflow reads its configuration when first imported, so it never runs inside the pytest
process: every Airflow step is a subprocess given the environment that ``fraudops airflow``
would give it (``airflow_local.airflow_env``), pointed at a temporary home.
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

from fraudops import airflow_local
from fraudops.config import Settings
from tests.support.settings import make_settings

RUNNER = Path(__file__).with_name("airflow_runner.py")
ROWS_PER_DAY = 3_000  # with SMALL's 10 days: 30k rows, a sweep in ~15 s


def clean_environ() -> dict[str, str]:
    """This process's environment without a developer's Airflow/FraudOps/MLflow settings."""
    prefixes = ("AIRFLOW", "FRAUDOPS_", "MLFLOW_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def dag_settings(home: Path) -> Settings:
    """Small embedded settings for a DAG run."""
    return make_settings(home, rows_per_day=ROWS_PER_DAY)


def env_for(settings: Settings, airflow_home: Path) -> dict[str, str]:
    """Environment of an Airflow child process: the session's home, the run's settings."""
    return airflow_local.airflow_env(settings, home=airflow_home, base=clean_environ())


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


RunDags = Callable[..., list[dict[str, Any]]]
