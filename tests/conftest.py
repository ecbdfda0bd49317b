"""Shared fixtures: embedded settings, a small trained lifecycle, and real services."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudops import generate, registry, train
from fraudops.config import Settings
from tests.support import services
from tests.support.settings import make_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded settings on a fresh home, small data."""
    return make_settings(tmp_path / "home")


@pytest.fixture(scope="session")
def trained_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A home with a small lake and a promoted production model (read-only for tests)."""
    s = make_settings(tmp_path_factory.mktemp("trained") / "home")
    generate.generate(s)
    trained = train.train_and_register(s)
    decision = registry.promote(s, version=trained.version)
    assert decision.promote, decision
    return s


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str | int]]:
    """A throwaway PostgreSQL cluster on loopback."""
    with services.postgres_cluster(tmp_path_factory.mktemp("pg")) as pg:
        yield pg


@pytest.fixture(scope="session")
def s3() -> Iterator[dict[str, str]]:
    """moto's S3 server (stand-in for MinIO: no MinIO binary exists for these machines)."""
    with services.moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_client(s3: dict[str, str]) -> Any:
    """A boto3 S3 client on moto's server."""
    return services.s3_client(s3)


@pytest.fixture(scope="session")
def mlflow_uri(
    postgres: dict[str, str | int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real ``mlflow server`` subprocess with a PostgreSQL backend."""
    backend = services.create_database(postgres, "mlflow")
    base = tmp_path_factory.mktemp("mlflow-server")
    with services.mlflow_server(backend, base / "artifacts", log=base / "server.log") as uri:
        yield uri
