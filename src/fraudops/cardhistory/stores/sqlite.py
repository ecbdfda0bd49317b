"""The embedded store: one SQLite file, shared safely by several API workers.

Each batch of recorded events is one short write transaction (``BEGIN IMMEDIATE``: workers
take turns, none loses another's event); WAL journaling lets readers run beside the writer.
No server to run: the embedded default.

Durability: ``synchronous=NORMAL`` in WAL mode, so a commit is safe when a process dies but
the last few transactions can be lost if the machine loses power; the store is a cache of
the lake's recent transactions, rebuilt by ``fraudops features backfill``. SQLite copies the
log into the file (a checkpoint, with an fsync) when a commit finds it long; the API's store
is opened with ``autocheckpoint=False`` and checkpoints in :meth:`SqliteStore.maintain`,
from a thread of its own, so no request waits on that fsync.
"""

from __future__ import annotations

import sqlite3
import threading
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from pathlib import Path

from fraudops.cardhistory.definition import HORIZON
from fraudops.cardhistory.stores.base import KEEP, Event, HistoryStore, StoreUnavailable, chunks

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    card TEXT NOT NULL, txn TEXT NOT NULL, ts INTEGER NOT NULL,
    amount REAL NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, merchant TEXT NOT NULL,
    PRIMARY KEY (card, txn)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_time ON events (card, ts);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_INSERT = "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)"
_WINDOWS = (
    "SELECT card, ts, txn, amount, lat, lon, merchant FROM events "
    "WHERE card IN ({marks}) AND ts >= ? AND ts < ? ORDER BY card, ts, txn"
)
_PRUNE = "DELETE FROM events WHERE card = ? AND ts < ?"
_BATCH = 500  # cards per IN (...) query


def _row(event: Event) -> tuple[object, ...]:
    card, ts, txn, amount, lat, lon, merchant = event
    return (card, txn, ts, amount, lat, lon, merchant)


def _windows(events: Sequence[Event], rows: Sequence[Event]) -> list[list[Event]]:
    """Each event's window ``[ts - HORIZON, ts)`` of its card, from rows in (card, ts) order."""
    by_card: dict[str, list[Event]] = {}
    for row in rows:
        by_card.setdefault(row[0], []).append(row)
    times = {card: [r[1] for r in found] for card, found in by_card.items()}
    out: list[list[Event]] = []
    for card, ts, *_ in events:
        found = by_card.get(card)
        if found is None:
            out.append([])
            continue
        at = times[card]
        out.append(found[bisect_left(at, ts - HORIZON) : bisect_left(at, ts)])
    return out


class SqliteStore(HistoryStore):
    """Card histories in a SQLite file."""

    def __init__(self, path: Path, *, autocheckpoint: bool = True) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.autocheckpoint = autocheckpoint  # False: only maintain() checkpoints the log
        self._local = threading.local()
        self._maintainer: sqlite3.Connection | None = None
        self._maintaining = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection().executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                if not self.autocheckpoint:
                    conn.execute("PRAGMA wal_autocheckpoint=0")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"card-history store {self.url}: {exc}") from exc
            self._local.conn = conn
        return conn

    def _write(self) -> sqlite3.Connection:
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"card-history store {self.url}: {exc}") from exc
        return conn

    def record_and_fetch(self, events: Sequence[Event]) -> list[list[Event]]:
        """One write transaction for a batch of events: workers take turns, none loses one.

        The events are added, their cards' windows read in one query and split per event
        (each gets its card's events before it in time, this batch's included: for a batch
        in time order, as if added in turn), and each card's events older than ``KEEP``
        behind its latest are pruned.
        """
        if not events:
            return []
        latest: dict[str, int] = {}
        for card, ts, *_ in events:
            latest[card] = max(ts, latest.get(card, ts))
        since = min(e[1] for e in events) - HORIZON
        until = max(latest.values())
        conn = self._write()
        try:
            conn.executemany(_INSERT, map(_row, events))
            rows: list[Event] = []
            for batch in chunks(sorted(latest), _BATCH):
                marks = ",".join("?" * len(batch))
                rows += conn.execute(_WINDOWS.format(marks=marks), (*batch, since, until))
            conn.executemany(_PRUNE, ((card, ts - KEEP) for card, ts in latest.items()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return _windows(events, rows)

    def fetch(self, cards: Iterable[str], *, since: int, until: int) -> list[Event]:
        """The cards' events in ``[since, until)``, a few hundred cards a query."""
        conn = self._connection()
        out: list[Event] = []
        for batch in chunks(sorted(set(cards)), _BATCH):
            marks = ",".join("?" * len(batch))
            out.extend(
                conn.execute(
                    "SELECT card, ts, txn, amount, lat, lon, merchant FROM events "
                    f"WHERE card IN ({marks}) AND ts >= ? AND ts < ?",  # noqa: S608  (marks only)
                    (*batch, since, until),
                ).fetchall()
            )
        return out

    def load(self, events: Iterable[Event]) -> int:
        """Insert in one transaction; events already there are left as they are."""
        conn = self._write()
        try:
            before = conn.total_changes
            conn.executemany(_INSERT, (_row(e) for e in events))
            added = conn.total_changes - before
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return added

    def clear(self) -> None:
        """Delete every event and the version."""
        conn = self._write()
        conn.execute("DELETE FROM events")
        conn.execute("DELETE FROM meta")
        conn.execute("COMMIT")

    def version(self) -> str | None:
        """The version in the ``meta`` table."""
        row = self._connection().execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return str(row[0]) if row else None

    def set_version(self, version: str) -> None:
        """Write the version to the ``meta`` table."""
        self._connection().execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (version,))

    def stats(self) -> dict[str, int]:
        """Counted in the file."""
        conn = self._connection()
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        cards = conn.execute("SELECT count(DISTINCT card) FROM events").fetchone()[0]
        return {"cards": int(cards), "events": int(events)}

    def maintain(self) -> None:
        """Checkpoint the write-ahead log into the file, without blocking the writers."""
        self.checkpoint()

    def checkpoint(self) -> tuple[int, int]:
        """A passive checkpoint (from any thread): frames in the log, frames copied."""
        with self._maintaining:
            if self._maintainer is None:
                self._maintainer = sqlite3.connect(
                    self.path, timeout=30, isolation_level=None, check_same_thread=False
                )
            row = self._maintainer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(row[1]), int(row[2])

    def close(self) -> None:
        """Close this thread's connection (and the checkpoints' one)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        with self._maintaining:
            if self._maintainer is not None:
                self._maintainer.close()
                self._maintainer = None
