"""Inbox storage: one small interface, two backends (a local folder, an S3 bucket prefix)."""

from __future__ import annotations

from pathlib import Path

from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.inbox.storage.base import Entry, InboxLock, Kind, LockLost, Storage
from fraudops.inbox.storage.local import LocalStorage

__all__ = [
    "Entry",
    "InboxLock",
    "Kind",
    "LocalStorage",
    "LockLost",
    "Storage",
    "open_storage",
]


def open_storage(settings: Settings) -> Storage:
    """The backend for ``settings.inbox_url``: ``s3://bucket/prefix`` or a local folder."""
    url = settings.inbox_url
    if url.startswith("s3://"):
        # boto3 costs ~0.2 s to import: only S3 inboxes pay it
        from fraudops.inbox.storage.s3 import S3Storage

        return S3Storage(url, settings)
    if "://" in url and not url.startswith("file://"):
        raise FraudOpsError(f"unsupported inbox URL {url!r}: use a folder or s3://bucket/prefix")
    return LocalStorage(Path(url.removeprefix("file://")).expanduser().resolve())
