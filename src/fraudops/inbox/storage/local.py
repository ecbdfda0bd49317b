"""An inbox in a local folder: atomic renames, fsync, and an ``flock`` the kernel releases."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from fraudops.errors import FraudOpsError
from fraudops.inbox.storage.base import Entry, InboxLock, Kind, Storage


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
            lock = InboxLock()
            lock.token = self._next_epoch()
            yield lock
        finally:
            os.close(fd)

    def _next_epoch(self) -> int:
        """One more than the last run's epoch (kept in ``.lock-epoch``; under the flock)."""
        path = self.root / ".lock-epoch"
        try:
            epoch = int(path.read_text().strip() or 0) + 1
        except (FileNotFoundError, ValueError):
            epoch = 1
        self.write_bytes(".lock-epoch", str(epoch).encode())
        return epoch

    def location(self, key: str) -> str:
        """The local path."""
        return str(self._path(key))
