"""The lake on a local warehouse, on S3 (moto's server standing in for MinIO) and with a
PostgreSQL catalog: overwrite-by-day never duplicates, every write is a snapshot, reads
can be pinned to a snapshot id."""

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraudops import generate, lake
from fraudops.datagen import generate_day
from tests.support.services import create_database, postgres_cluster, restart_postgres
from tests.support.settings import make_settings

pytestmark = pytest.mark.integration
D0 = dt.date(2026, 1, 1)


def _exercise(settings):
    table = lake.transactions_table(lake.open_catalog(settings))
    first = generate.generate(settings, start=D0, days=3, rows_per_day=1_000)
    assert lake.table_status(table.refresh()).rows == 3_000

    # rerun the same days: replaced, not duplicated
    again = generate.generate(settings, start=D0, days=3, rows_per_day=1_000)
    table.refresh()
    assert lake.table_status(table).rows == 3_000
    assert again.snapshot_id != first.snapshot_id

    # overwrite one day with different content; the others are untouched
    changed = generate_day(D0 + dt.timedelta(days=1), rows=500, seed=99).drop_columns(["is_fraud"])
    snap = lake.write_days(table, changed, [D0 + dt.timedelta(days=1)])
    now = lake.read_transactions(table)
    assert now.num_rows == 2_500
    day2 = lake.read_transactions(table, days=[D0 + dt.timedelta(days=1)])
    assert day2.sort_by("transaction_id").equals(changed.sort_by("transaction_id"))
    assert lake.read_transactions(table, days=[D0]).num_rows == 1_000

    # time travel: the first snapshot still reads as it was
    old = lake.read_transactions(table, snapshot_id=first.snapshot_id)
    assert old.num_rows == 3_000
    assert pc.count_distinct(old["transaction_id"]).as_py() == 3_000
    assert lake.table_status(table).snapshot_id == snap
    assert lake.snapshot_days(table) == [D0, D0 + dt.timedelta(days=1), D0 + dt.timedelta(days=2)]
    summary = table.snapshot_by_id(snap).summary
    assert summary["fraudops.days"] == (D0 + dt.timedelta(days=1)).isoformat()

    # label events: the ones reported during the generated days, by day of report
    labels = lake.labels_table(lake.open_catalog(settings))
    events = lake.read_labels(labels, before=dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
    assert events.num_rows == again.label_events > 0
    reported = pc.cast(events["reported_at"], pa.date32()).to_pylist()
    assert set(reported) <= {D0, D0 + dt.timedelta(days=1), D0 + dt.timedelta(days=2)}
    assert pc.count_distinct(events["transaction_id"]).as_py() == events.num_rows
    cutoff = dt.datetime(2026, 1, 2, 12, tzinfo=dt.UTC)
    early = lake.read_labels(labels, before=cutoff)
    assert 0 < early.num_rows < events.num_rows
    assert pc.max(early["reported_at"]).as_py() < cutoff
    return table


def test_local_warehouse(settings):
    table = _exercise(settings)
    assert table.location().startswith("file://")


def test_s3_warehouse_on_moto(tmp_path, s3, s3_client):
    s3_client.create_bucket(Bucket="lake")
    settings = make_settings(
        tmp_path / "home",
        warehouse="s3://lake/warehouse",
        s3_endpoint=s3["endpoint"],
        s3_access_key=s3["access_key"],
        s3_secret_key=s3["secret_key"],
    )
    table = _exercise(settings)
    assert table.location().startswith("s3://lake/warehouse")
    objects = s3_client.list_objects_v2(Bucket="lake", Prefix="warehouse/fraud/transactions/data/")
    assert any(o["Key"].endswith(".parquet") for o in objects.get("Contents", []))


def test_postgres_catalog(tmp_path, postgres):
    uri = create_database(postgres, "lake_catalog")
    settings = make_settings(tmp_path / "home", catalog_uri=uri)
    _exercise(settings)


def test_write_requires_contract_schema(settings):
    table = lake.transactions_table(lake.open_catalog(settings))
    bad = pa.table({"transaction_id": ["x"]})
    with pytest.raises((ValueError, KeyError, pa.ArrowInvalid)):
        lake.write_days(table, bad, [D0])


def test_postgres_catalog_reconnects_after_a_restart(tmp_path):
    # its own cluster: the session's PostgreSQL carries the mlflow server of other tests
    with postgres_cluster(tmp_path / "pg") as pg:
        settings = make_settings(tmp_path / "home", catalog_uri=create_database(pg, "lake"))
        table = lake.transactions_table(lake.open_catalog(settings))
        generate.generate(settings, start=D0, days=1, rows_per_day=500)

        restart_postgres(Path(str(pg["base"])))  # the catalog's pooled connection is now dead

        table.refresh()
        assert lake.table_status(table).rows == 500
        generate.generate(settings, start=D0, days=1, rows_per_day=500)
        assert lake.table_status(table.refresh()).rows == 500


def test_a_pinned_read_is_made_once_and_a_new_snapshot_read_anew(settings):
    generate.generate(settings, start=D0, days=6, rows_per_day=500)
    catalog = lake.open_catalog(settings)
    pinned = lake.pin(catalog)
    first = lake.read_labelled(catalog, pinned, maturity_days=2)
    # the gate after the training: the same snapshots, from another catalog object
    again = lake.read_labelled(lake.open_catalog(settings), pinned, maturity_days=2)
    assert again is first
    assert lake.read_labelled(catalog, pinned, maturity_days=3) is not first
    # new data is a new snapshot: read anew, never the kept table
    generate.generate(settings, start=D0 + dt.timedelta(days=6), days=1, rows_per_day=500)
    newer = lake.read_labelled(catalog, lake.pin(catalog), maturity_days=2)
    assert newer.rows == first.rows + 500


def test_generating_apart_writes_what_generating_here_writes(tmp_path):
    """``fraudops demo`` fills the lake from a process of its own: the same rows and events."""
    here, apart = make_settings(tmp_path / "here"), make_settings(tmp_path / "apart")
    days: list[dt.date] = []
    mine = generate.generate(here, start=D0, days=3, rows_per_day=500)
    theirs = generate.generate_apart(apart, start=D0, days=3, rows_per_day=500, on_day=days.append)

    assert days == [D0, D0 + dt.timedelta(days=1), D0 + dt.timedelta(days=2)]
    assert (theirs.rows, theirs.fraud_rows, theirs.label_events) == (
        mine.rows,
        mine.fraud_rows,
        mine.label_events,
    )
    for settings, result in ((here, mine), (apart, theirs)):
        table = lake.transactions_table(lake.open_catalog(settings))
        assert table.current_snapshot().snapshot_id == result.snapshot_id
    rows = [
        lake.read_transactions(lake.transactions_table(lake.open_catalog(s))).sort_by(
            "transaction_id"
        )
        for s in (here, apart)
    ]
    assert rows[0].equals(rows[1])


def test_an_error_while_generating_apart_is_raised_here(tmp_path):
    settings = make_settings(tmp_path / "home")
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the warehouse should be")
    broken = settings.model_copy(update={"warehouse": (blocked / "warehouse").as_uri()})

    with pytest.raises(Exception, match="not-a-directory") as raised:
        generate.generate_apart(broken, start=D0, days=1, rows_per_day=500)
    assert any("in the generating process" in note for note in raised.value.__notes__)


def test_generating_apart_stops_the_child_when_this_process_stops(tmp_path):
    """Stopped here (the progress callback fails on the first day, as Ctrl-C would), the child
    stops too: its next report finds the pipe closed, and it never writes the lake."""
    settings = make_settings(tmp_path / "home")

    def interrupted(_day: dt.date) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate.generate_apart(settings, start=D0, days=60, rows_per_day=5_000, on_day=interrupted)
    # the child was stopped while generating: it never got to write the lake
    assert lake.transactions_table(lake.open_catalog(settings)).current_snapshot() is None
