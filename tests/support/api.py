"""The API under test: keys, fresh transactions as clients send them, a registry to change."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pyarrow as pa
from mlflow.tracking import MlflowClient

from fraudops import datagen, tracking
from fraudops.cardhistory.backfill import backfill
from fraudops.config import Settings
from fraudops.procs import free_port, start_group, stop_groups, wait_http
from tests.support.settings import make_settings

KEY = "test-client-key-0123456789"
ADMIN_KEY = "test-admin-key-0123456789"
AUTH = {"X-API-Key": KEY}
ADMIN = {"X-API-Key": ADMIN_KEY}


def api_settings(home: Path, cache: Path, **overrides: Any) -> Settings:
    """Settings of an API on ``home``'s registry, with test keys and its own model cache.

    The API gets a card-history store of its own beside the cache, backfilled from the lake
    (a model is not served from an empty store).
    """
    overrides.setdefault("feature_store", str(cache / "feature-store.db"))
    settings = make_settings(
        home, api_keys=KEY, admin_api_keys=ADMIN_KEY, serving_cache=cache, **overrides
    )
    backfill(settings)
    return settings


def serve_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment of ``fraudops serve`` on ``settings`` (none of the caller's FRAUDOPS_*)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDOPS_")}
    env.update(
        FRAUDOPS_HOME=str(settings.home_dir),
        FRAUDOPS_CATALOG_URI=settings.catalog_url,
        FRAUDOPS_WAREHOUSE=settings.warehouse_url,
        FRAUDOPS_TRACKING_URI=settings.tracking_url,
        FRAUDOPS_SERVING_CACHE=str(settings.serving_cache_dir),
        FRAUDOPS_FEATURE_STORE=settings.feature_store_url,
        FRAUDOPS_API_KEYS=",".join(k.get_secret_value() for k in settings.api_keys),
        FRAUDOPS_ADMIN_API_KEYS=",".join(k.get_secret_value() for k in settings.admin_api_keys),
        **overrides,
    )
    return env


@contextmanager
def served(settings: Settings, *, log: Path, **overrides: str) -> Iterator[str]:
    """``fraudops serve`` (real uvicorn) in a subprocess, ready with a model; yields its URL."""
    port = free_port()
    exe = str(Path(sys.executable).with_name("fraudops"))
    argv = [exe, "serve", "--port", str(port)]
    proc = start_group(argv, env=serve_env(settings, **overrides), log=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health/ready", proc=proc, timeout=120, ready=lambda s: s == 200)
        yield url
    finally:
        stop_groups([proc], grace=10)


def transactions(rows: int = 200, *, seed: int = 7) -> pa.Table:
    """Fresh transactions (a day after the training data), without the label."""
    table = datagen.generate_day(dt.date(2026, 2, 1), rows=rows, seed=seed, fraud_rate=0.2)
    return table.drop_columns(["is_fraud"])


def as_json(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as the JSON records a client sends (ISO-8601 timestamps)."""
    rows = table.to_pylist()
    for row in rows:
        row["event_ts"] = row["event_ts"].isoformat()
    return rows


@dataclass
class RegistryCopy:
    """A copy of the session's registry: v1 @production, v2 (same model), v3 (broken)."""

    home: Path
    client: MlflowClient
    name: str
    alias: str

    def set_alias(self, version: str) -> None:
        self.client.set_registered_model_alias(self.name, self.alias, version)

    def remove_alias(self) -> None:
        self.client.delete_registered_model_alias(self.name, self.alias)

    def settings(self, cache: Path, **overrides: Any) -> Settings:
        return api_settings(self.home, cache, **overrides)


def copy_registry(trained: Settings, home: Path) -> RegistryCopy:
    """A private copy of the MLflow store of ``trained``, so a test can move the alias freely."""
    (home / "mlflow").mkdir(parents=True)
    source = sqlite3.connect(trained.home_dir / "mlflow" / "mlflow.db")
    target = sqlite3.connect(home / "mlflow" / "mlflow.db")
    source.backup(target)
    source.close()
    target.close()

    settings = make_settings(home)
    client = tracking.connect(settings)
    v1 = client.get_model_version_by_alias(settings.model_name, settings.model_alias)
    assert v1.version in (1, "1")
    v2 = mlflow.register_model(v1.source, settings.model_name)
    broken = home / "broken-model"
    broken.mkdir()
    (broken / "MLmodel").write_text("not a model\n")
    v3 = client.create_model_version(settings.model_name, source=str(broken))
    assert (str(v2.version), str(v3.version)) == ("2", "3")
    return RegistryCopy(home, client, settings.model_name, settings.model_alias)
