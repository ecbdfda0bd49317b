"""Inbox storage: one small interface, two backends (a local folder, an S3 bucket prefix).

Keys are ``/``-separated paths below the inbox root (``incoming/a.csv``). Every write is
atomic for a reader: a temporary file renamed into place locally, a single PUT on S3. Moves
are a rename locally and copy-then-delete on S3; a move cut short leaves both copies, so
callers make every step safe to repeat.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fraudops.config import Settings
from fraudops.errors import FraudOpsError

Kind = Literal["file", "dir", "link", "other"]


@dataclass(frozen=True)
class Entry:
    """One listed object: its name below the listed folder, as stored (never sanitised)."""

    name: str
    kind: Kind
    size: int
    identity: str  # changes when the object is replaced (inode+mtime, or ETag+mtime)


class InboxLock:
    """Exclusive right to work on an inbox; ``refresh`` keeps a lease alive."""

    def refresh(self) -> None:
        """Extend the lease (no-op for locks the OS releases when the process dies)."""


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


def open_storage(settings: Settings) -> Storage:
    """The backend for ``settings.inbox_url``: ``s3://bucket/prefix`` or a local folder."""
    url = settings.inbox_url
    if url.startswith("s3://"):
        return S3Storage(url, settings)
    if "://" in url and not url.startswith("file://"):
        raise FraudOpsError(f"unsupported inbox URL {url!r}: use a folder or s3://bucket/prefix")
    return LocalStorage(Path(url.removeprefix("file://")).expanduser().resolve())


# -- local folder ---------------------------------------------------------------------------


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage(Storage):
    """An inbox in a local folder; staging lives inside it so publishing is one rename."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    @property
    def staging(self) -> Path:
        """``<root>/.staging``: same file system as the outbox."""
        path = self.root / ".staging"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def ensure(self) -> None:
        """Create the root folder."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FraudOpsError(f"cannot create the inbox folder {self.root}: {exc}") from exc

    def list(self, folder: str) -> list[Entry]:
        """Direct children of ``folder``; symlinks are reported as links, never followed."""
        path = self._path(folder)
        if not path.is_dir():
            return []
        out = []
        with os.scandir(path) as it:
            for item in it:
                st = item.stat(follow_symlinks=False)
                kind: Kind
                if item.is_symlink():
                    kind = "link"
                elif item.is_file(follow_symlinks=False):
                    kind = "file"
                elif item.is_dir(follow_symlinks=False):
                    kind = "dir"
                else:
                    kind = "other"
                out.append(Entry(item.name, kind, st.st_size, f"{st.st_ino}:{st.st_mtime_ns}"))
        return out

    def stat(self, key: str) -> Entry | None:
        """The file at ``key`` (not following a symlink) or None."""
        path = self._path(key)
        try:
            st = path.lstat()
        except FileNotFoundError:
            return None
        kind: Kind = "file" if path.is_file() and not path.is_symlink() else "other"
        return Entry(path.name, kind, st.st_size, f"{st.st_ino}:{st.st_mtime_ns}")

    def read_bytes(self, key: str) -> bytes | None:
        """The file's bytes or None."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def publish(self, local: Path, key: str) -> None:
        """fsync, then rename into place (copy beside the target first across file systems)."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(local, "rb") as fh:
            os.fsync(fh.fileno())
        try:
            os.replace(local, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            shutil.copyfile(local, tmp)
            os.replace(tmp, target)
            local.unlink()
        _fsync_dir(target.parent)

    def write_bytes(self, key: str, data: bytes) -> None:
        """A hidden temporary file beside the target, fsync, rename."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(target.parent)

    def fetch(self, key: str) -> Path:
        """The file itself."""
        return self._path(key)

    def move(self, src: str, dst: str) -> None:
        """One rename; a symlink is moved as a link, never followed."""
        target = self._path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path(src), target)
        _fsync_dir(target.parent)

    def delete(self, key: str) -> None:
        """Unlink ``key`` if it exists."""
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    @contextlib.contextmanager
    def lock(self, *, lease_seconds: int) -> Iterator[InboxLock]:
        """``flock`` on ``<root>/.lock``: the kernel releases it when the process dies."""
        self.ensure()
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise FraudOpsError(
                    f"another score-inbox run is working on {self.root}; try again later"
                ) from None
            shutil.rmtree(self.root / ".staging", ignore_errors=True)  # a killed run's leftovers
            yield InboxLock()
        finally:
            os.close(fd)

    def location(self, key: str) -> str:
        """The local path."""
        return str(self._path(key))


# -- S3 -------------------------------------------------------------------------------------


class _LeaseLock(InboxLock):
    """A lock object in the bucket, created and renewed with conditional writes."""

    def __init__(self, storage: S3Storage, key: str, lease_seconds: int) -> None:
        self.storage = storage
        self.key = key
        self.lease = lease_seconds
        self.etag = ""
        self.renewed = 0.0
        self.body = {
            "owner": uuid.uuid4().hex,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }

    def _put(self, **condition: str) -> None:
        now = dt.datetime.now(dt.UTC)
        body = {**self.body, "expires_at": (now + dt.timedelta(seconds=self.lease)).isoformat()}
        resp = self.storage.client.put_object(
            Bucket=self.storage.bucket, Key=self.key, Body=json.dumps(body).encode(), **condition
        )
        self.etag = resp["ETag"]
        self.renewed = time.monotonic()

    def acquire(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self._put(IfNoneMatch="*")
            return
        except ClientError as exc:
            if not _precondition_failed(exc):
                raise
        try:
            held = self.storage.client.get_object(Bucket=self.storage.bucket, Key=self.key)
        except ClientError as exc:  # released in between: try once more from scratch
            if _code(exc) not in ("NoSuchKey", "404"):
                raise
            self._put(IfNoneMatch="*")
            return
        info = json.loads(held["Body"].read() or b"{}")
        if not _stale(info):
            raise FraudOpsError(
                f"another score-inbox run ({info.get('host')}, pid {info.get('pid')}) holds "
                f"s3://{self.storage.bucket}/{self.key} until {info.get('expires_at')}; "
                "try again later"
            )
        try:  # take over the stale lock, unless someone else just did
            self._put(IfMatch=held["ETag"])
        except ClientError as exc:
            if _precondition_failed(exc):
                raise FraudOpsError("another run took the inbox lock; try again") from None
            raise

    def refresh(self) -> None:
        """Renew the lease when a third of it has passed; fail if it was taken over."""
        from botocore.exceptions import ClientError

        if time.monotonic() - self.renewed < self.lease / 3:
            return
        try:
            self._put(IfMatch=self.etag)
        except ClientError as exc:
            if _precondition_failed(exc):
                raise FraudOpsError("the inbox lock was taken over by another run") from None
            raise

    def release(self) -> None:
        from botocore.exceptions import ClientError

        with contextlib.suppress(ClientError):
            self.storage.client.delete_object(
                Bucket=self.storage.bucket, Key=self.key, IfMatch=self.etag
            )


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
        import boto3
        from botocore.config import Config

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
        self._tmp = tempfile.TemporaryDirectory(prefix="fraudops-inbox-")
        self._local: dict[str, Path] = {}  # key -> local copy made in this run

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @property
    def staging(self) -> Path:
        """A temporary folder removed by :meth:`close`."""
        return Path(self._tmp.name)

    def ensure(self) -> None:
        """Fail with one clear message when the bucket is missing or unreachable."""
        from botocore.exceptions import BotoCoreError, ClientError

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
        from botocore.exceptions import ClientError

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
        from botocore.exceptions import ClientError

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
        from boto3.s3.transfer import TransferConfig

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
        self._tmp.cleanup()
