"""A new embedded tracking store: made in one step, complete, with SQLite's write-ahead log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fraudops import tracking
from tests.support.settings import make_settings


def test_a_new_store_is_complete_and_keeps_the_write_ahead_log(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    client = tracking.connect(settings)
    experiment_id = tracking.ensure_experiment(client, settings)
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "average_precision", 0.5)
    db = settings.home_dir / "mlflow" / "mlflow.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    from mlflow.store.db.utils import _get_latest_schema_revision

    assert revision == _get_latest_schema_revision()  # type: ignore[no-untyped-call]
    assert [p.name for p in db.parent.iterdir() if p.name.endswith(".part")] == []
    assert client.get_run(run.info.run_id).data.metrics == {"average_precision": 0.5}


def test_an_existing_store_is_left_as_it_is(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    tracking.ensure_experiment(tracking.connect(settings), settings)
    db = settings.home_dir / "mlflow" / "mlflow.db"
    before = db.stat().st_ino
    client = tracking.connect(settings)
    assert db.stat().st_ino == before
    assert client.get_experiment_by_name(settings.experiment) is not None
