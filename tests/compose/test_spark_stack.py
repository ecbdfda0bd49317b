"""The stack's Spark engine, checked from the files: the cluster, its image, Airflow's side."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyspark
import pytest
import yaml

from tests.support.compose import ROOT, base_images, dockerfile_instructions, environment

SPARK_DOCKERFILE = ROOT / "spark" / "Dockerfile"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return dict(raw["services"])


def _lock_version(name: str) -> str:
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    found = re.search(rf"^{name}==([\w.]+)$", lock, re.M)
    assert found, f"{name} is not in requirements.lock"
    return found.group(1)


def _args(keyword: str, path: Path = SPARK_DOCKERFILE) -> str:
    return " ".join(a for k, a in dockerfile_instructions(path) if k == keyword)


def test_the_cluster_is_the_official_spark_at_the_locked_pyspark_version() -> None:
    spark_images = [i for i in base_images(SPARK_DOCKERFILE) if i.startswith("apache/spark:")]
    assert spark_images, "the Spark build must come from the official apache/spark image"
    (image,) = spark_images
    assert image.split(":")[1].split("-")[0] == _lock_version("pyspark")
    # the executors run the driver's Python minor version (PySpark refuses another)
    python = [i for i in base_images(SPARK_DOCKERFILE) if i.startswith("python:")]
    assert python and python[0].split(":")[1].startswith("3.11.")


def test_the_s3a_jars_match_the_hadoop_that_spark_carries() -> None:
    jars = Path(pyspark.__file__).parent / "jars"
    (client,) = jars.glob("hadoop-client-api-*.jar")
    hadoop = client.name.removeprefix("hadoop-client-api-").removesuffix(".jar")
    args = _args("ARG")
    assert f"HADOOP_AWS_VERSION={hadoop}" in args
    assert "AWS_SDK_V2_VERSION=" in args
    run = _args("RUN")
    assert "hadoop-aws-${HADOOP_AWS_VERSION}.jar" in run and "/opt/spark/jars" in run
    assert "awssdk/bundle/${AWS_SDK_V2_VERSION}" in run


def test_the_spark_image_runs_the_package_on_its_executors() -> None:
    run = _args("RUN")
    assert '"/tmp/fraudops[spark]"' in run and "--constraint /tmp/fraudops/requirements.lock" in run
    assert "PYSPARK_PYTHON=/usr/local/bin/python3.11" in _args("ENV")


def test_master_and_worker_form_a_cluster_behind_the_spark_profile(
    services: dict[str, Any],
) -> None:
    master, worker = services["spark-master"], services["spark-worker"]
    assert master["profiles"] == worker["profiles"] == ["spark"]
    assert master["build"]["dockerfile"] == "spark/Dockerfile"
    assert worker["image"] == master["image"]
    assert "org.apache.spark.deploy.master.Master" in master["command"]
    assert "spark://spark-master:7077" in worker["command"]
    assert worker["depends_on"]["spark-master"]["condition"] == "service_healthy"
    assert "ports" not in master and "ports" not in worker  # UIs stay inside the network


def test_airflow_submits_to_the_cluster_when_told(services: dict[str, Any]) -> None:
    env = environment(services["airflow-scheduler"])  # tasks run in the scheduler
    assert env["SPARK_MASTER_URL"] == "spark://spark-master:7077"
    assert env["FRAUDOPS_ENGINE"] == "${PIPELINE_ENGINE:-in-process}"
    assert env["PYSPARK_PYTHON"] == "/usr/local/bin/python3.11"  # as the spark image has it
    airflow = ROOT / "airflow" / "Dockerfile"
    assert "openjdk-17-jre-headless" in _args("RUN", airflow)  # the driver is a JVM
    assert "[airflow,monitoring,spark]" in _args("RUN", airflow)
