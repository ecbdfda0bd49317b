"""Inbox fixtures: a fresh inbox and lake per use, on a local folder or on moto's S3."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudops.config import Settings
from tests.support.inbox import inbox_settings


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.integration)])
def fresh_inbox(
    request: pytest.FixtureRequest, trained_settings: Settings, tmp_path: Path
) -> Settings:
    """An empty inbox and lake beside the trained registry, on each backend."""
    s3 = request.getfixturevalue("s3") if request.param == "s3" else None
    return inbox_settings(trained_settings, tmp_path / "inbox-home", request.param, s3)
