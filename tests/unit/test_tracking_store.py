"""A new embedded tracking store: made in one step, complete, with SQLite's write-ahead log."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

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


def _schema(db: Path) -> tuple[list[tuple[str, str, list[str]]], list[tuple[str]], str]:
    """Each table's and index's definition (its lines sorted: MLflow's migrations write a
    table's constraints in an order that varies from run to run), the revision, the journal."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        objects = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    lines = [
        (kind, name, sorted(line.strip().rstrip(",") for line in (sql or "").splitlines()))
        for kind, name, sql in objects
    ]
    return lines, revision, mode


def test_a_store_copied_from_the_installed_template_is_the_one_the_migrations_make(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "share" / "fraudops" / "mlflow-store-head.db"
    monkeypatch.setattr(tracking, "store_template", lambda: template)
    migrated = tmp_path / "migrated.db"
    tracking.create_sqlite_store(f"sqlite:///{migrated}", from_template=False)
    assert tracking.make_store_template() == template
    with contextlib.closing(sqlite3.connect(template)) as conn:
        conn.execute("PRAGMA user_version = 7")  # a mark only a copy of the template carries
    copied = tmp_path / "copied.db"
    tracking.create_sqlite_store(f"sqlite:///{copied}")
    assert _schema(copied) == _schema(migrated)
    tables, _, mode = _schema(copied)
    assert len(tables) > 20 and mode == "wal"
    with contextlib.closing(sqlite3.connect(copied)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (7,)
    assert [p.name for p in tmp_path.rglob("*.part")] == []


def test_without_a_template_the_migrations_make_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracking, "store_template", lambda: tmp_path / "none" / "missing.db")
    settings = make_settings(tmp_path / "home")
    client = tracking.connect(settings)
    tracking.ensure_experiment(client, settings)
    db = settings.home_dir / "mlflow" / "mlflow.db"
    assert _schema(db)[2] == "wal"
    assert not (tmp_path / "none").exists()
