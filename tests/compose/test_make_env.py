"""scripts/make_env.py: .env from .env.example with fresh, strong, distinct secrets."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path
from types import ModuleType

import pytest

from tests.support import compose
from tests.support.compose import ENV_EXAMPLE as EXAMPLE


@pytest.fixture(scope="module")
def make_env() -> ModuleType:
    return compose.make_env


def parse(text: str) -> dict[str, str]:
    return dict(compose.make_env.parse_dotenv(text))


@pytest.fixture
def written(make_env: ModuleType, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    out = tmp_path / ".env"
    assert make_env.main(["--example", str(EXAMPLE), "--output", str(out)]) == 0
    return out, parse(out.read_text(encoding="utf-8"))


def test_fills_every_secret_and_keeps_the_rest(
    make_env: ModuleType, written: tuple[Path, dict[str, str]]
) -> None:
    _, env = written
    example = parse(EXAMPLE.read_text(encoding="utf-8"))
    assert env.keys() == example.keys()
    for name, value in example.items():
        if make_env.is_secret(name):
            assert len(env[name]) >= 20, f"{name} is too short"
        else:
            assert env[name] == value, f"{name} changed"


def test_secrets_are_distinct_and_fresh(
    make_env: ModuleType, written: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, first = written
    secrets = [value for name, value in first.items() if make_env.is_secret(name)]
    assert len(set(secrets)) == len(secrets)
    again = tmp_path / "again.env"
    make_env.main(["--example", str(EXAMPLE), "--output", str(again)])
    second = parse(again.read_text(encoding="utf-8"))
    assert not {v for n, v in second.items() if make_env.is_secret(n)} & set(secrets)


def test_values_fit_what_each_service_accepts(written: tuple[Path, dict[str, str]]) -> None:
    _, env = written
    fernet = base64.urlsafe_b64decode(env["AIRFLOW_FERNET_KEY"])
    assert len(fernet) == 32
    assert re.fullmatch(r"[0-9a-f]{128}", env["AIRFLOW_JWT_SECRET"])  # 64 bytes, hex
    access_keys = ("MLFLOW_S3_ACCESS_KEY", "AIRFLOW_S3_ACCESS_KEY", "INBOX_UPLOAD_ACCESS_KEY")
    for name in (*access_keys, "API_S3_ACCESS_KEY"):
        assert re.fullmatch(r"[A-Z0-9]{20}", env[name])
    for name in (
        "MINIO_ROOT_PASSWORD",
        "MLFLOW_S3_SECRET_KEY",
        "AIRFLOW_S3_SECRET_KEY",
        "INBOX_UPLOAD_SECRET_KEY",
        "API_S3_SECRET_KEY",
    ):
        assert 8 <= len(env[name]) <= 40, name  # MinIO's limits for a secret key
    for name in ("MLFLOW_ADMIN_PASSWORD", "MLFLOW_AIRFLOW_PASSWORD", "MLFLOW_API_PASSWORD"):
        assert len(env[name]) >= 12  # MLflow's password policy
    # Safe unquoted in .env and inside postgresql:// URLs.
    for name, value in env.items():
        if name != "MLFLOW_ALLOWED_HOSTS":
            assert re.fullmatch(r"[A-Za-z0-9_.:=-]*", value), f"{name}={value!r}"


def test_no_weak_value(written: tuple[Path, dict[str, str]]) -> None:
    _, env = written
    weak = {"minioadmin", "airflow", "admin", "password", "password1234", "changeme", ""}
    from_example = {"MINIO_ROOT_USER", "MLFLOW_ADMIN_USERNAME", "AIRFLOW_ADMIN_USERNAME"}
    for name, value in env.items():
        if name not in from_example and any(m in name for m in ("PASSWORD", "SECRET", "KEY")):
            assert value.lower() not in weak, name


def test_file_is_private(written: tuple[Path, dict[str, str]]) -> None:
    out, _ = written
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_refuses_to_overwrite_without_force(
    make_env: ModuleType, written: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = written
    before = out.read_text(encoding="utf-8")
    assert make_env.main(["--example", str(EXAMPLE), "--output", str(out)]) == 1
    assert "--force" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == before
    assert make_env.main(["--example", str(EXAMPLE), "--output", str(out), "--force"]) == 0
    assert out.read_text(encoding="utf-8") != before


def test_secrets_never_pass_through_a_predictable_temporary_file(
    make_env: ModuleType, tmp_path: Path
) -> None:
    out = tmp_path / ".env"
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    # an attacker's link at the temporary name an earlier version wrote through
    (tmp_path / "..env.tmp").symlink_to(victim)

    assert make_env.main(["--example", str(EXAMPLE), "--output", str(out)]) == 0

    assert victim.read_text() == "untouched\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not out.is_symlink()
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != "victim.txt")
    assert leftovers == ["..env.tmp", ".env"]  # the planted link is left alone
