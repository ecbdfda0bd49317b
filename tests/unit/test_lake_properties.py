"""The lake's tables are written with the Parquet settings that keep their writes cheap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.io.pyarrow import _get_parquet_writer_kwargs
from pyiceberg.table import Table

from fraudops import lake
from fraudops.config import Settings
from fraudops.lake.catalog import PARQUET_CODEC, PARQUET_DICT_BYTES, arrow_schema_of
from fraudops.schema import LOGGED_KEY, arrow_schema


def test_predictions_written_with_a_small_dictionary_limit(settings: Settings) -> None:
    catalog = lake.open_catalog(settings)
    old = lake.predictions_table(catalog)
    with old.transaction() as tx:  # a lake from before the limit: only the codec was set
        tx.remove_properties(PARQUET_DICT_BYTES)
    assert PARQUET_DICT_BYTES not in catalog.load_table(lake.PREDICTIONS).properties

    table = lake.predictions_table(catalog)
    assert table.properties[PARQUET_CODEC] == "snappy"
    # what the writer of the data files is given (pyiceberg's default is 2 MiB)
    kwargs = _get_parquet_writer_kwargs(table.properties)
    assert kwargs["dictionary_pagesize_limit"] == 64 * 1024
    assert kwargs["compression"] == "snappy"


@pytest.mark.parametrize(
    ("name", "opened"),
    [
        (lake.TRANSACTIONS, lake.transactions_table),
        (lake.LABELS, lake.labels_table),
        (lake.SCORES, lake.scores_table),
    ],
)
def test_bulk_tables_keep_zstd_with_a_small_dictionary_limit(
    settings: Settings, name: str, opened: Callable[[Catalog], Table]
) -> None:
    """A many-valued column (ids, timestamps, amounts) builds no 2 MiB dictionary to drop."""
    catalog = lake.open_catalog(settings)
    assert PARQUET_DICT_BYTES in opened(catalog).properties  # a new table has the limit
    with catalog.load_table(name).transaction() as tx:  # a lake from before the limit
        tx.remove_properties(PARQUET_DICT_BYTES)
    assert PARQUET_DICT_BYTES not in catalog.load_table(name).properties

    kwargs = _get_parquet_writer_kwargs(opened(catalog).properties)
    assert kwargs["dictionary_pagesize_limit"] == 64 * 1024
    assert kwargs["compression"] == "zstd"  # pyiceberg's default codec, kept


def test_predictions_keep_a_short_metadata_log(settings: Settings) -> None:
    """Every API worker commits every few seconds: the metadata pyiceberg copies on each
    commit must not grow with the table's age (its files stay: the API deletes nothing)."""
    table = lake.predictions_table(lake.open_catalog(settings))
    empty = table.schema().as_arrow().empty_table()
    for _ in range(15):
        table.append(empty)  # a commit (a snapshot without data files)
    table.refresh()
    assert len(table.metadata.metadata_log) == 10


def test_a_lake_from_before_takes_a_shadows_rows_of_key_and_answers(settings: Settings) -> None:
    """The inputs other than the key were required; an older table loosens them on open."""
    catalog = lake.open_catalog(settings)
    old = lake.predictions_table(catalog)
    others = [f.name for f in arrow_schema() if f.name not in LOGGED_KEY]
    with old.update_schema(allow_incompatible_changes=True) as update:
        for name in others:  # as such a lake has them
            update.update_column(name, required=True)
    assert all(catalog.load_table(lake.PREDICTIONS).schema().find_field(n).required for n in others)

    table = lake.predictions_table(catalog)
    assert not any(table.schema().find_field(name).required for name in others)
    assert all(table.schema().find_field(name).required for name in LOGGED_KEY)
    schema = arrow_schema_of(table)
    row = {f.name: None for f in schema}
    row.update(
        transaction_id="t-1",
        event_ts=dt.datetime(2026, 2, 1, 12, tzinfo=dt.UTC),
        transaction_amount=12.5,
        fraud_probability=0.3,
        is_fraud=False,
        model_name="m",
        model_version="2",
        predicted_at=dt.datetime(2026, 2, 1, 12, tzinfo=dt.UTC),
        source="api",
        role="shadow",
    )
    lake.append(table, pa.Table.from_pylist([row], schema=schema), properties={})
    read = lake.predictions_table(catalog).scan().to_arrow()
    assert read["transaction_id"].to_pylist() == ["t-1"]
    assert read["merchant_id"].to_pylist() == [None]
