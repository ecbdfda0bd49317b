"""The storage interface of an inbox: what a backend must do, and what it lists.

Keys are ``/``-separated paths below the inbox root (``incoming/a.csv``). Every write is
atomic for a reader: a temporary file renamed into place locally, a single PUT on S3. Moves
are a rename locally and copy-then-delete on S3; a move cut short leaves both copies, so
callers make every step safe to repeat.
"""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fraudops.errors import FraudOpsError

Kind = Literal["file", "dir", "link", "other"]


@dataclass(frozen=True)
class Entry:
    """One listed object: its name below the listed folder, as stored (never sanitised)."""

    name: str
    kind: Kind
    size: int
    identity: str  # changes when the object is replaced (inode+mtime, or ETag+mtime)


class LockLost(FraudOpsError):
    """Another run took the inbox lock: this run must stop before it changes anything more."""


class InboxLock:
    """Exclusive right to work on an inbox.

    ``token`` is the lock's epoch, one higher at every acquisition: a run that lost the lock
    (its lease ran out while it was paused) holds a smaller token than the run that took it,
    and the lake commit refuses it (a fencing token).
    """

    token: int = 0

    def refresh(self) -> None:
        """Extend the lease (no-op for locks the OS releases when the process dies)."""

    def check(self) -> None:
        """Raise :class:`LockLost` unless this run still holds the lock."""


class Storage(ABC):
    """Object-store-like access to an inbox root."""

    url: str

    @abstractmethod
    def ensure(self) -> None:
        """Check the root is reachable (and create it locally)."""

    @abstractmethod
    def list(self, folder: str) -> list[Entry]:
        """Everything below ``folder``; locally only its direct children."""

    @abstractmethod
    def stat(self, key: str) -> Entry | None:
        """The object at ``key`` or None."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""

    @abstractmethod
    def publish(self, local: Path, key: str) -> None:
        """Make ``local`` visible at ``key`` in one atomic step (``local`` is consumed)."""

    @abstractmethod
    def fetch(self, key: str) -> Path:
        """A local, readable path with the object's bytes."""

    @abstractmethod
    def move(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst`` (overwriting ``dst``); safe to repeat after a cut."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if it exists."""

    @abstractmethod
    def lock(self, *, lease_seconds: int) -> contextlib.AbstractContextManager[InboxLock]:
        """Exclusive access to the inbox for one run."""

    @property
    @abstractmethod
    def staging(self) -> Path:
        """A local folder for files before they are published."""

    @abstractmethod
    def location(self, key: str) -> str:
        """Where ``key`` is, for people (a path or an ``s3://`` URL)."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""
        return self.stat(key) is not None

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None:
        """Atomically write small content to ``key``."""

    def write_json(self, key: str, obj: Any) -> None:
        """Atomically write a JSON document to ``key``."""
        self.write_bytes(key, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())

    def read_json(self, key: str) -> Any | None:
        """A JSON document, or None when ``key`` does not exist."""
        data = self.read_bytes(key)
        return None if data is None else json.loads(data)

    def close(self) -> None:  # noqa: B027  (only some backends hold resources)
        """Release local resources (temporary folders)."""
