"""The one way the package starts Spark: master from the settings, quiet, small by default."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from fraudops.config import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# a machine of 2 cores shared by several jobs: few shuffle partitions, no UI, Arrow transfers
DEFAULTS = {
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "100000",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.session.timeZone": "UTC",
    "spark.python.worker.reuse": "true",
    # a scored file's results come back to the driver (the inbox writes them in file order):
    # its memory (spark_driver_memory) bounds that, not Spark's 1 GiB default (~4M rows)
    "spark.driver.maxResultSize": "0",
}


def spark_session(settings: Settings, *, app: str = "fraudops") -> SparkSession:
    """A Spark session on ``settings.spark_master`` (``local[*]`` by default).

    Executors run this interpreter (``spark.pyspark.python``): the package and its pinned
    dependencies must be installed there too on a remote cluster (the stack's Spark image).
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if settings.spark_master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no "resolves to loopback" warning
    builder = SparkSession.builder.appName(app).master(settings.spark_master)
    conf = {
        **DEFAULTS,
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.executor.memory": settings.spark_executor_memory,
        "spark.pyspark.python": os.environ["PYSPARK_PYTHON"],
        "spark.pyspark.driver.python": sys.executable,
    }
    if not settings.spark_master.startswith("local"):
        conf.pop("spark.driver.bindAddress")  # a cluster's executors must reach the driver
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
