"""Each storage backend keeps the interface's promises: a local folder, and S3 on moto.

moto's S3 server stands in for MinIO (no MinIO binary exists for these machines).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudops.errors import FraudOpsError
from fraudops.inbox.storage import LocalStorage, Storage
from fraudops.inbox.storage.s3 import S3Storage
from tests.support.settings import make_settings


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "local":
        backend: Storage = LocalStorage(tmp_path / "inbox")
    else:
        s3: dict[str, str] = request.getfixturevalue("s3")
        bucket = f"store-{uuid.uuid4().hex[:12]}"
        request.getfixturevalue("s3_client").create_bucket(Bucket=bucket)
        settings = make_settings(
            tmp_path / "home",
            s3_endpoint=s3["endpoint"],
            s3_access_key=s3["access_key"],
            s3_secret_key=s3["secret_key"],
        )
        backend = S3Storage(f"s3://{bucket}/inbox", settings)
    backend.ensure()
    yield backend
    backend.close()


def test_writes_are_read_back_and_listed(store: Storage) -> None:
    store.write_bytes("incoming/a.csv", b"a,b\n")
    store.write_json("ledger/claims/a.csv.json", {"state": "claimed", "n": 1})

    assert store.read_bytes("incoming/a.csv") == b"a,b\n"
    assert store.read_json("ledger/claims/a.csv.json") == {"state": "claimed", "n": 1}
    assert store.read_bytes("incoming/missing.csv") is None
    assert store.read_json("ledger/claims/missing.json") is None
    [entry] = store.list("incoming")
    assert (entry.name, entry.kind, entry.size) == ("a.csv", "file", 4)
    assert store.list("nothing-here") == []
    assert store.exists("incoming/a.csv") and not store.exists("incoming/b.csv")


def test_identity_changes_when_an_object_is_replaced(store: Storage) -> None:
    store.write_bytes("incoming/a.csv", b"one")
    first = store.stat("incoming/a.csv")
    store.write_bytes("incoming/a.csv", b"two, longer")
    second = store.stat("incoming/a.csv")

    assert first is not None and second is not None
    assert first.identity != second.identity
    assert second.size == len(b"two, longer")


def test_move_publish_fetch_and_delete(store: Storage) -> None:
    store.write_bytes("incoming/a.csv", b"payload")
    store.move("incoming/a.csv", "claimed/a.csv")
    assert not store.exists("incoming/a.csv")
    assert store.fetch("claimed/a.csv").read_bytes() == b"payload"

    staged = store.staging / "out.csv"
    staged.write_bytes(b"scored")
    store.publish(staged, "outbox/a.scored.csv")
    assert store.read_bytes("outbox/a.scored.csv") == b"scored"

    store.delete("claimed/a.csv")
    store.delete("claimed/a.csv")  # absent: fine
    assert not store.exists("claimed/a.csv")


def test_a_move_repeated_after_a_cut_is_harmless(store: Storage) -> None:
    store.write_bytes("incoming/a.csv", b"payload")
    store.move("incoming/a.csv", "processed/a.csv")
    store.write_bytes("processed/a.csv", b"payload")  # a repeat finds the target there

    assert store.read_bytes("processed/a.csv") == b"payload"
    assert store.list("incoming") == []


def test_the_lock_is_exclusive(store: Storage) -> None:
    with store.lock(lease_seconds=60) as lock:
        lock.refresh()
        other: Any = LocalStorage(Path(store.url)) if isinstance(store, LocalStorage) else store
        with pytest.raises(FraudOpsError, match="another score-inbox run"):
            with other.lock(lease_seconds=60):
                pass
    with store.lock(lease_seconds=60):  # released: taken again
        pass


def test_locations_name_the_backend(store: Storage) -> None:
    where = store.location("outbox/a.scored.csv")
    if isinstance(store, S3Storage):
        assert where == f"s3://{store.bucket}/inbox/outbox/a.scored.csv"
    else:
        assert where == os.path.join(store.url, "outbox", "a.scored.csv")


def test_a_local_symlink_is_listed_as_a_link_never_followed(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "inbox")
    store.ensure()
    secret = tmp_path / "secret.csv"
    secret.write_text("do not read")
    (tmp_path / "inbox" / "incoming").mkdir()
    (tmp_path / "inbox" / "incoming" / "link.csv").symlink_to(secret)

    [entry] = store.list("incoming")

    assert entry.kind == "link"
    store.move("incoming/link.csv", "quarantine/link.csv")
    assert (tmp_path / "inbox" / "quarantine" / "link.csv").is_symlink()
    assert secret.read_text() == "do not read"


KILLED_RUN = """
import os, signal, sys, tempfile
tempfile.tempdir = sys.argv[1]
from fraudops.config import Settings
from fraudops.inbox.storage.s3 import S3Storage
store = S3Storage("s3://inbox/in", Settings(_env_file=None, home=sys.argv[2]))
(store.staging / "f-input").write_bytes(b"a copy of the input")
print(store.staging, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_s3_runs_staging_is_removed_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed mid-file leaves its local copies; the next run on the machine removes them."""
    home = tmp_path / "home"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(tmp_path), str(home)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = Path(killed.stdout.strip())
    assert (left / "f-input").exists()  # what the killed run left behind

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    store = S3Storage("s3://inbox/in", make_settings(home))
    mine = store.staging
    assert not left.exists()
    assert mine.parent == left.parent and mine.exists()  # its own folder is kept while it runs
    other = S3Storage("s3://inbox/in", make_settings(home))  # a live process's folder is kept
    assert mine.exists() and other.staging.exists()
    other.close()
    store.close()
    assert not mine.exists()
