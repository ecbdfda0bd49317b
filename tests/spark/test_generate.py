"""``generate --engine spark``: the in-process rows; days replaced, never duplicated."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from fraudops import generate, lake
from fraudops.config import Settings
from fraudops.engine import Engine
from tests.spark.conftest import fresh_lake, on_spark
from tests.support.settings import make_settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]
START = dt.date(2026, 1, 1)


def lake_rows(settings: Settings) -> tuple[pa.Table, pa.Table]:
    catalog = lake.open_catalog(settings)
    tx = lake.plain_strings(lake.transactions_table(catalog).scan().to_arrow())
    labels = lake.plain_strings(lake.labels_table(catalog).scan().to_arrow())
    return tx.sort_by("transaction_id"), labels.sort_by([("transaction_id", "ascending")])


def test_spark_generates_the_rows_of_the_in_process_engine_and_overwrites_days(
    master: str, tmp_path: Path
) -> None:
    base = fresh_lake(make_settings(tmp_path / "home", rows_per_day=700, days=3), tmp_path)
    spark = on_spark(base, master)

    first = generate.generate(spark, start=START)
    on_spark_rows = lake_rows(spark)
    in_process = generate.generate(base.model_copy(update={"engine": Engine.IN_PROCESS}))
    assert lake_rows(base) == on_spark_rows  # the in-process engine replaced the same rows
    again = generate.generate(spark, start=START)
    tx, labels = lake_rows(spark)

    assert tx.num_rows == 3 * 700 == first.rows == in_process.rows == again.rows
    assert (tx, labels) == on_spark_rows  # rerun: the days replaced, nothing duplicated
    assert labels.num_rows == first.label_events == in_process.label_events > 0
    assert first.fraud_rows == in_process.fraud_rows
    table = lake.transactions_table(lake.open_catalog(spark))
    snap = table.current_snapshot()
    assert snap is not None and snap.summary is not None
    assert snap.summary["fraudops.engine"] == "spark"
    assert snap.summary["fraudops.days"] == "2026-01-01,2026-01-02,2026-01-03"
