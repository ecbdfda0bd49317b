"""Local copies of served model versions, so the API can start while MLflow is down."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCORER_FOLDER = "scorer"
META_FILE = "serving.json"
POINTER_FILE = "current.json"


class ModelCache:
    """Local copies of served versions: ``<root>/v<version>/{scorer/, serving.json}``.

    ``current.json`` names the last version that loaded well. Copies are written to a
    temporary folder and renamed into place, so a folder that exists is complete (several
    workers may fill the cache at the same time).
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, version: str) -> Path:
        """Where a version's copy lives."""
        return self.root / f"v{version}"

    def lookup(self, version: str, run_id: str | None) -> Path | None:
        """The copy of a version, if present and made from the same run."""
        folder = self.folder(version)
        try:
            meta = json.loads((folder / META_FILE).read_text())
        except (OSError, ValueError):
            return None
        return folder if meta.get("run_id") == run_id else None

    def store(self, version: str, *, meta: dict[str, Any], fill: Callable[[Path], object]) -> Path:
        """Write a version's copy: ``fill(path)`` creates the scorer folder at ``path``."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.folder(version)
        tmp = Path(tempfile.mkdtemp(prefix=f".v{version}-", dir=self.root))
        try:
            fill(tmp / SCORER_FOLDER)
            (tmp / META_FILE).write_text(json.dumps(meta, default=str))
            if final.exists():  # a stale copy, e.g. from another registry
                shutil.rmtree(final, ignore_errors=True)
            try:
                os.rename(tmp, final)
            except OSError:
                if self.lookup(version, meta.get("run_id")) is None:
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return final

    def mark_current(self, version: str) -> None:
        """Point ``current.json`` at a version (atomic replace)."""
        pointer = self.root / POINTER_FILE
        tmp = pointer.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": version}))
        os.replace(tmp, pointer)

    def current(self) -> Path | None:
        """The folder of the last good version, if any."""
        try:
            version = json.loads((self.root / POINTER_FILE).read_text())["version"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        folder = self.folder(str(version))
        return folder if (folder / META_FILE).is_file() else None

    def prune(self, *, keep: int = 3) -> None:
        """Remove all but the ``keep`` newest versions' copies (never the current one)."""
        current = self.current()
        copies = sorted(
            (p for p in self.root.glob("v*") if p.is_dir() and p.name[1:].isdigit()),
            key=lambda p: int(p.name[1:]),
            reverse=True,
        )
        for old in copies[keep:]:
            if old != current:
                shutil.rmtree(old, ignore_errors=True)
