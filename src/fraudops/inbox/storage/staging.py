"""Local staging folders of a remote inbox: one per process, a gone process's removed."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def own_staging() -> Path:
    """A new staging folder for this process, after removing those of processes now gone.

    A killed run (SIGKILL, out of memory) leaves its copy of the input and its scored files
    behind; each folder is named for the process that made it, so the next run on this machine
    removes the folders whose process no longer exists, and a crash loop cannot fill the disk.
    """
    parent = Path(tempfile.gettempdir()) / f"fraudops-inbox-{os.getuid()}"
    parent.mkdir(mode=0o700, exist_ok=True)
    for old in parent.glob("run-*"):
        pid = old.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=parent))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
