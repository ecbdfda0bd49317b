"""``fraud.predictions`` is written with the Parquet settings that keep its writes cheap."""

from __future__ import annotations

from pyiceberg.io.pyarrow import _get_parquet_writer_kwargs

from fraudops import lake
from fraudops.config import Settings
from fraudops.lake.catalog import PARQUET_CODEC, PARQUET_DICT_BYTES


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


def test_predictions_keep_a_short_metadata_log(settings: Settings) -> None:
    """Every API worker commits every few seconds: the metadata pyiceberg copies on each
    commit must not grow with the table's age (its files stay: the API deletes nothing)."""
    table = lake.predictions_table(lake.open_catalog(settings))
    empty = table.schema().as_arrow().empty_table()
    for _ in range(15):
        table.append(empty)  # a commit (a snapshot without data files)
    table.refresh()
    assert len(table.metadata.metadata_log) == 10
