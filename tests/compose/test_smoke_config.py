"""scripts/smoke.py's settings: which logins `make smoke` uses, read from .env.

The rehearsal runs the whole scenario, but moto accepts any key: which key uploads the CSV is
only visible here and in the Makefile.
"""

from __future__ import annotations

import re
from types import ModuleType

import pytest

from tests.support.compose import ENV_EXAMPLE, ROOT, load_script, read_env_file


@pytest.fixture(scope="module")
def smoke() -> ModuleType:
    return load_script("smoke")


@pytest.fixture
def env() -> dict[str, str]:
    """.env.example with every secret filled in, and the S3 endpoint the smoke needs."""
    values = {
        name: value or f"x-{name.lower()}" for name, value in read_env_file(ENV_EXAMPLE).items()
    }
    return {**values, "SMOKE_S3_ENDPOINT": "http://minio:9000"}


def test_uploads_with_the_upload_key_never_the_root_login(
    smoke: ModuleType, env: dict[str, str]
) -> None:
    config = smoke.Config.load(env)
    assert config.upload_key == (env["INBOX_UPLOAD_ACCESS_KEY"], env["INBOX_UPLOAD_SECRET_KEY"])
    assert config.batch_key == (env["AIRFLOW_S3_ACCESS_KEY"], env["AIRFLOW_S3_SECRET_KEY"])
    without = {k: v for k, v in env.items() if not k.startswith("INBOX_UPLOAD_")}
    with pytest.raises(smoke.SmokeFailure, match="INBOX_UPLOAD_ACCESS_KEY"):
        smoke.Config.load(without)


def test_make_smoke_passes_no_root_login_into_the_stack() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = re.search(r"^smoke:.*?(?=^\S)", makefile, re.M | re.S)
    assert target, "no smoke target in the Makefile"
    assert "MINIO_ROOT" not in target.group(0)
    assert "-e INBOX_UPLOAD_ACCESS_KEY -e INBOX_UPLOAD_SECRET_KEY" in target.group(0)
