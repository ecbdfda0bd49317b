import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fraudops.config import Settings
from fraudops.errors import FraudOpsError


def test_embedded_defaults_live_under_home(tmp_path):
    s = Settings(_env_file=None, home=tmp_path / "h")
    home = (tmp_path / "h").resolve()
    assert s.catalog_url == f"sqlite:///{home / 'lake' / 'catalog.db'}"
    assert s.warehouse_url == (home / "lake" / "warehouse").as_uri()
    assert s.tracking_url == f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    assert s.inbox_url == str(home / "inbox")
    assert s.s3_options == {}


def test_services_are_configuration_only(monkeypatch):
    monkeypatch.setenv("FRAUDOPS_CATALOG_URI", "postgresql+psycopg2://lake:pw@db:5432/lake")
    monkeypatch.setenv("FRAUDOPS_WAREHOUSE", "s3://lake/warehouse")
    monkeypatch.setenv("FRAUDOPS_S3_ENDPOINT", "http://minio:9000")
    monkeypatch.setenv("FRAUDOPS_S3_ACCESS_KEY", "ak")
    monkeypatch.setenv("FRAUDOPS_S3_SECRET_KEY", "sk")
    monkeypatch.setenv("FRAUDOPS_TRACKING_URI", "http://mlflow:5000")
    s = Settings(_env_file=None)
    assert s.catalog_url.startswith("postgresql")
    assert s.warehouse_url == "s3://lake/warehouse"
    assert s.tracking_url == "http://mlflow:5000"
    assert s.artifact_location is None
    assert s.s3_options["s3.endpoint"] == "http://minio:9000"


def test_unwritable_home_fails_with_one_message(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(FraudOpsError, match="not writable"):
        Settings(_env_file=None, home=blocker / "home").ensure_home()


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudops.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_two_processes_may_check_the_same_home_at_once(tmp_path, monkeypatch):
    settings = Settings(_env_file=None, home=tmp_path / "h")
    settings.ensure_home()
    both_wrote = threading.Barrier(2, timeout=30)
    real_unlink = Path.unlink

    def unlink_once_both_wrote(path, *args, **kwargs):
        if path.parent == settings.home_dir:  # each one's write probe: both exist now
            both_wrote.wait()
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", unlink_once_both_wrote)
    errors = []

    def check():
        try:
            settings.ensure_home()
        except FraudOpsError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []


def test_cli_unwritable_home_is_one_clear_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")  # a home below a file cannot be created, even by root
    res = _cli("generate", "--days", "1", env={"FRAUDOPS_HOME": str(blocker / "home")})
    said = " ".join(res.stderr.split())  # the terminal may wrap a long home's line
    assert res.returncode == 2
    assert "FRAUDOPS_HOME" in said and "not writable" in said
    assert "Traceback" not in said


def test_cli_unreachable_tracking_uri_is_one_clear_line(tmp_path):
    from tests.support.services import free_port

    env = {
        "FRAUDOPS_HOME": str(tmp_path / "h"),
        "FRAUDOPS_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
    }
    res = _cli("status", env=env)
    assert res.returncode == 2
    assert "unreachable" in res.stderr and "FRAUDOPS_TRACKING_URI" in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_invalid_setting_is_one_clear_line(tmp_path):
    res = _cli("status", env={"FRAUDOPS_HOME": str(tmp_path / "h"), "FRAUDOPS_FRAUD_RATE": "2"})
    assert res.returncode == 2
    assert "invalid settings" in res.stderr and "fraud_rate" in res.stderr
    assert "Traceback" not in res.stderr


def test_help_lists_the_commands():
    res = _cli("--help", env={})
    assert res.returncode == 0
    for cmd in ("generate", "train", "promote", "demo", "status"):
        assert cmd in res.stdout
