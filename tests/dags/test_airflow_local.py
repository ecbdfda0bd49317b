"""The environment and login ``fraudops airflow`` gives Airflow (no Airflow process needed)."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fraudops import airflow_local
from fraudops.cli import app
from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from tests.support.settings import make_settings

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "airflow" / "dags"


def test_airflow_env_runs_on_the_embedded_defaults(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    env = airflow_local.airflow_env(settings, port=18123, base={"PATH": "/usr/bin"})
    home = settings.home_dir / "airflow"
    assert env["AIRFLOW_HOME"] == str(home)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{home / 'airflow.db'}"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(DAGS_FOLDER)
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "2"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18123/execution/"
    # tasks get the same FraudOps settings, with an absolute home
    assert env["FRAUDOPS_HOME"] == str(settings.home_dir)
    assert env["FRAUDOPS_DAYS"] == str(settings.days)
    assert env["PATH"] == "/usr/bin"


def test_airflow_env_keeps_the_users_airflow_settings_but_not_their_home(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    base = {"AIRFLOW__CORE__PARALLELISM": "8", "AIRFLOW_HOME": "/elsewhere"}
    env = airflow_local.airflow_env(settings, host="0.0.0.0", port=9000, base=base)
    assert env["AIRFLOW__CORE__PARALLELISM"] == "8"
    assert env["AIRFLOW_HOME"] == str(settings.home_dir / "airflow")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:9000/execution/"


def test_tasks_read_back_the_settings_they_are_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(
        tmp_path / "home",
        drift_from=dt.date(2026, 1, 8),
        s3_secret_key="s3cret",
        api_keys=["k1", "k2"],
        promotion_margin=0.02,
    )
    env = airflow_local.fraudops_env(settings)
    assert env["FRAUDOPS_S3_SECRET_KEY"] == "s3cret"  # in clear: the task must use it
    for key in [k for k in os.environ if k.startswith("FRAUDOPS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    again = Settings(_env_file=None)  # type: ignore[call-arg]
    assert again.model_dump() == settings.model_dump()
    assert [k.get_secret_value() for k in again.api_keys] == ["k1", "k2"]


def test_dags_folder_setting_and_its_error(tmp_path: Path) -> None:
    elsewhere = tmp_path / "dags"
    elsewhere.mkdir()
    with pytest.raises(FraudOpsError, match="FRAUDOPS_DAGS_FOLDER"):
        airflow_local.dags_folder(make_settings(tmp_path / "home", dags_folder=elsewhere))
    (elsewhere / "fraud_bootstrap.py").write_text("")
    settings = make_settings(tmp_path / "home", dags_folder=elsewhere)
    assert airflow_local.dags_folder(settings) == elsewhere


def test_admin_password_is_generated_once_and_private(tmp_path: Path) -> None:
    first = airflow_local.admin_password(tmp_path)
    assert len(first) >= 16
    assert airflow_local.admin_password(tmp_path) == first
    path = airflow_local.password_file(tmp_path)
    assert json.loads(path.read_text()) == {"admin": first}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_cli_has_the_airflow_command() -> None:
    result = CliRunner().invoke(app, ["airflow", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--triggerer" in result.output
