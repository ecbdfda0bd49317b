"""Stores for the online executor: the embedded SQLite file, or Valkey/Redis in the stack."""

from __future__ import annotations

from pathlib import Path

from fraudops.cardhistory.stores.base import Event, HistoryStore, StoreUnavailable
from fraudops.config import Settings

__all__ = ["Event", "HistoryStore", "StoreUnavailable", "open_store"]


def open_store(settings: Settings, *, serving: bool = False) -> HistoryStore:
    """The store ``FRAUDOPS_FEATURE_STORE`` names (``redis://``: Valkey or Redis).

    ``serving``: the API's store, whose upkeep (:meth:`HistoryStore.maintain`) the API runs
    every ``feature_store_checkpoint_seconds`` off the request path.
    """
    url = settings.feature_store_url
    if url.startswith(("redis://", "rediss://", "unix://")):
        from fraudops.cardhistory.stores.redis import RedisStore  # only the stack needs it

        store: HistoryStore = RedisStore(url)
        return store
    from fraudops.cardhistory.stores.sqlite import SqliteStore

    path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else Path(url)
    offload = serving and settings.feature_store_checkpoint_seconds > 0
    return SqliteStore(path, autocheckpoint=not offload)
