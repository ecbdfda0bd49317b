"""Spark fixtures: a real standalone cluster (master + worker of the installed pyspark) and
``local[2]``, one Spark session per master, and a lake with history beside the trained model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fraudops import generate
from fraudops.config import Settings
from fraudops.engine import Engine

LOCAL = "local[2]"


@pytest.fixture(scope="session")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A standalone Spark cluster on loopback: its master URL."""
    from fraudops.spark.cluster import standalone_cluster

    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster"), cores=2) as url:
        yield url


@pytest.fixture(scope="session", params=[LOCAL, "standalone"])
def master(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each master in turn (tests are grouped by it); its session stops when they are done."""
    url = LOCAL if request.param == LOCAL else request.getfixturevalue("standalone")
    yield url
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


@pytest.fixture(scope="session")
def spark_lake(trained_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The trained model's registry, with a lake of its own holding the card histories."""
    tmp = tmp_path_factory.mktemp("spark-lake")
    settings = trained_settings.model_copy(
        update={
            "catalog_uri": f"sqlite:///{tmp / 'catalog.db'}",
            "warehouse": (tmp / "warehouse").as_uri(),
            "inbox_chunk_rows": 1_000,
        }
    )
    generate.generate(settings)
    return settings


def on_spark(settings: Settings, master: str, **update: object) -> Settings:
    """``settings`` on the Spark engine at ``master``, small memory."""
    return settings.model_copy(
        update={
            "engine": Engine.SPARK,
            "spark_master": master,
            "spark_driver_memory": "768m",
            "spark_executor_memory": "768m",
            **update,
        }
    )


def fresh_lake(settings: Settings, tmp: Path) -> Settings:
    """``settings`` with an empty lake of its own."""
    return settings.model_copy(
        update={
            "catalog_uri": f"sqlite:///{tmp / 'catalog.db'}",
            "warehouse": (tmp / "wh").as_uri(),
        }
    )
