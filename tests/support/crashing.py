"""A ``score_inbox`` run that SIGKILLs itself right after its k-th write (in a child process).

Writes are the storage primitives that change the inbox (one call each: a ledger record, an
outbox file, a move or one half of an S3 move, a delete) and the lake commit. Killing after
write k, for every k, covers every point at which a crash leaves a different state behind.
"""

from __future__ import annotations

import functools
import os
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pyiceberg.io.pyarrow  # noqa: F401  (imported lazily by the first lake write)

import fraudops.scoring  # noqa: F401  (imported lazily by the first scored file)
from fraudops import inbox, lake, registry
from fraudops.config import Settings
from fraudops.inbox.storage import LocalStorage
from fraudops.inbox.storage.s3 import S3Storage
from fraudops.scoring import FraudScorer

# This module is the forkserver's preload: building one S3 client here parses botocore's
# service model once, so every forked child starts with it (no network is touched).
boto3.client("s3", region_name="us-east-1")

WRITES: dict[type, tuple[str, ...]] = {
    LocalStorage: ("write_bytes", "publish", "move", "delete"),
    S3Storage: ("write_bytes", "publish", "_copy", "delete"),  # S3Storage.move = _copy + delete
}


def run_until_killed(
    settings: Settings, scorer_dir: str, version: str, kill_after: int, tmp: str
) -> None:
    """Score the inbox; die by SIGKILL right after write number ``kill_after``.

    A killed run leaves its temporary files behind (an S3 inbox's staging folder): they go
    to ``tmp``, the test's own folder, not the machine's /tmp.
    """
    os.makedirs(tmp, exist_ok=True)
    tempfile.tempdir = tmp
    writes = 0

    def counted(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal writes
            result = fn(*args, **kwargs)
            writes += 1
            if writes == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return wrapper

    for cls, methods in WRITES.items():
        for name in methods:
            setattr(cls, name, counted(getattr(cls, name)))
    lake.append_once = counted(lake.append_once)  # type: ignore[assignment]
    # the registry is not under test here: the child scores with a local copy of the model
    scorer = FraudScorer.load(Path(scorer_dir))
    registry.load_production_scorer = lambda _s: (scorer, version)  # type: ignore[assignment]
    registry.load_scorer = lambda _s, _v: scorer  # type: ignore[assignment]
    inbox.score_inbox(settings)
