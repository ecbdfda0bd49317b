"""An inbox under ``s3://bucket/prefix`` (MinIO, moto, AWS), locked by a lease object."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import time
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.inbox.storage.base import Entry, InboxLock, Kind, LockLost, Storage
from fraudops.inbox.storage.staging import own_staging


class _LeaseLock(InboxLock):
    """A lock object in the bucket, taken and renewed with conditional writes.

    The object is never deleted: releasing it marks it released and keeps its ``epoch``, so
    every acquisition gets a larger token than any before it.
    """

    def __init__(self, storage: S3Storage, key: str, lease_seconds: int) -> None:
        self.storage = storage
        self.key = key
        self.lease = lease_seconds
        self.etag = ""
        self.renewed = 0.0
        self.body: dict[str, Any] = {
            "owner": uuid.uuid4().hex,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }

    def _put(self, condition: dict[str, str], *, released: bool = False) -> None:
        now = dt.datetime.now(dt.UTC)
        expires = now if released else now + dt.timedelta(seconds=self.lease)
        body = {**self.body, "epoch": self.token, "expires_at": expires.isoformat()}
        if released:
            body["released"] = True
        resp = self.storage.client.put_object(
            Bucket=self.storage.bucket,
            Key=self.key,
            Body=json.dumps(body).encode(),
            **condition,
        )
        self.etag = resp["ETag"]
        self.renewed = time.monotonic()

    def acquire(self) -> None:
        """Create the lock object, or take over one that is released or stale."""
        try:
            held = self.storage.client.get_object(Bucket=self.storage.bucket, Key=self.key)
        except ClientError as exc:
            if _code(exc) not in ("NoSuchKey", "404"):
                raise
            self.token = 1
            self._conditional(IfNoneMatch="*")
            return
        info = json.loads(held["Body"].read() or b"{}")
        if not info.get("released") and not _stale(info):
            raise FraudOpsError(
                f"another score-inbox run ({info.get('host')}, pid {info.get('pid')}) holds "
                f"s3://{self.storage.bucket}/{self.key} until {info.get('expires_at')}; "
                "try again later"
            )
        self.token = int(info.get("epoch") or 0) + 1
        self._conditional(IfMatch=held["ETag"])  # unless someone else just took it

    def _conditional(self, **condition: str) -> None:
        try:
            self._put(condition)
        except ClientError as exc:
            if _precondition_failed(exc):
                raise FraudOpsError(
                    "another score-inbox run took the inbox lock; try again"
                ) from None
            raise

    def refresh(self) -> None:
        """Renew the lease when a third of it has passed; fail if it was taken over."""
        if time.monotonic() - self.renewed < self.lease / 3:
            return
        try:
            self._put({"IfMatch": self.etag})
        except ClientError as exc:
            if _precondition_failed(exc):
                raise LockLost("the inbox lock was taken over by another run") from None
            raise

    def check(self) -> None:
        """Still ours: renew if due, then read the object back (its ETag is ours)."""
        self.refresh()
        head = self.storage.client.head_object(Bucket=self.storage.bucket, Key=self.key)
        if head["ETag"] != self.etag:
            raise LockLost("the inbox lock was taken over by another run")

    def release(self) -> None:
        """Mark the lock released (the object and its epoch stay)."""
        with contextlib.suppress(ClientError):
            self._put({"IfMatch": self.etag}, released=True)


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _precondition_failed(exc: Any) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    conflict = ("PreconditionFailed", "ConditionalRequestConflict")
    return _code(exc) in conflict or status in (409, 412)


def _stale(info: dict[str, Any]) -> bool:
    """A lease past its expiry, or held by a process of this host that no longer exists."""
    try:
        expires = dt.datetime.fromisoformat(str(info["expires_at"]))
    except (KeyError, ValueError):
        return True
    if expires < dt.datetime.now(dt.UTC):
        return True
    if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
        try:
            os.kill(info["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


class S3Storage(Storage):
    """An inbox under ``s3://bucket/prefix`` (MinIO, moto, AWS); staging is a local temp dir."""

    def __init__(self, url: str, settings: Settings) -> None:

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise FraudOpsError(f"inbox URL {url!r} names no bucket")
        self.url = url.rstrip("/")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint,
            aws_access_key_id=settings.s3_access_key,
            aws_secret_access_key=settings.s3_secret_key,
            region_name=settings.s3_region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 5, "mode": "standard"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
        self._staging = own_staging()
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._staging, ignore_errors=True)
        self._local: dict[str, Path] = {}  # key -> local copy made in this run

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @property
    def staging(self) -> Path:
        """A local folder removed by :meth:`close` (or by a later run, if this one is killed)."""
        return self._staging

    def ensure(self) -> None:
        """Fail with one clear message when the bucket is missing or unreachable."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            raise FraudOpsError(f"inbox bucket {self.bucket!r}: {_code(exc) or exc}") from exc
        except BotoCoreError as exc:
            raise FraudOpsError(f"inbox {self.url} is unreachable: {exc}") from exc

    def list(self, folder: str) -> list[Entry]:
        """Every key below ``folder/`` (names may contain ``/``: nested keys are listed)."""
        base = self._key(folder) + "/"
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=base
        ):
            for obj in page.get("Contents", []):
                name = obj["Key"][len(base) :]
                if not name:
                    continue
                kind: Kind = "dir" if name.endswith("/") else "file"
                identity = f"{obj['ETag']}:{obj['LastModified'].isoformat()}"
                out.append(Entry(name, kind, int(obj["Size"]), identity))
        return out

    def stat(self, key: str) -> Entry | None:
        """HEAD the object."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        identity = f"{head['ETag']}:{head['LastModified'].isoformat()}"
        return Entry(key.rsplit("/", 1)[-1], "file", int(head["ContentLength"]), identity)

    def read_bytes(self, key: str) -> bytes | None:
        """GET the object."""
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        data: bytes = resp["Body"].read()
        return data

    def publish(self, local: Path, key: str) -> None:
        """One PUT (objects appear whole); multipart only above 4 GiB, which is atomic too."""
        self.client.upload_file(
            str(local),
            self.bucket,
            self._key(key),
            Config=TransferConfig(multipart_threshold=4 * 1024**3, use_threads=False),
        )
        self._local[key] = local  # kept: a later fetch of this key reads it locally

    def write_bytes(self, key: str, data: bytes) -> None:
        """One PUT."""
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def fetch(self, key: str) -> Path:
        """Download once into staging (or reuse the copy this run published)."""
        if key in self._local and self._local[key].exists():
            return self._local[key]
        local = self.staging / ("f-" + hashlib.sha256(key.encode()).hexdigest()[:24])
        self.client.download_file(self.bucket, self._key(key), str(local))
        self._local[key] = local
        return local

    def move(self, src: str, dst: str) -> None:
        """Copy, then delete the source (a cut in between leaves both; repeating is safe)."""
        self._copy(src, dst)
        self.delete(src)
        if src in self._local:
            self._local[dst] = self._local.pop(src)

    def _copy(self, src: str, dst: str) -> None:
        """Server-side copy (multipart above 5 GiB, handled by the transfer manager)."""
        self.client.copy(
            {"Bucket": self.bucket, "Key": self._key(src)}, self.bucket, self._key(dst)
        )

    def delete(self, key: str) -> None:
        """DELETE the object (absent is fine)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    @contextlib.contextmanager
    def lock(self, *, lease_seconds: int) -> Iterator[InboxLock]:
        """A lease object ``<prefix>/.lock``: conditional writes make one run win."""
        lock = _LeaseLock(self, self._key(".lock"), lease_seconds)
        lock.acquire()
        try:
            yield lock
        finally:
            lock.release()

    def location(self, key: str) -> str:
        """The ``s3://`` URL."""
        return f"s3://{self.bucket}/{self._key(key)}"

    def close(self) -> None:
        """Remove the local staging folder."""
        self._cleanup()
