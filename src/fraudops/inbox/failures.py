"""How the inbox tells a file's own fault (quarantine it) from the world's (try again later)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fraudops.csvio import Unparseable
from fraudops.errors import redact


class StillChanging(Exception):
    """The file changed while it was read: it stays claimed, and the next run starts over."""


class OutsideFailure(Exception):
    """Something scoring needs outside the file failed: the world's fault, not the file's.

    The file stays in flight (never quarantined), and the next run scores it.
    """


class EngineFailure(OutsideFailure):
    """The engine scoring a file's valid rows failed (a Spark job); they were validated."""


class LakeFailure(OutsideFailure):
    """The lake's card history for a file's cards could not be read (catalog, warehouse)."""


def describe(exc: BaseException) -> str:
    """What went wrong reading a file, in one line (its own fault: it is quarantined)."""
    text = str(exc).splitlines()[0][:500] if str(exc) else ""
    if isinstance(exc, Unparseable):
        return text
    return f"could not be read ({type(exc).__name__}: {text})" if text else type(exc).__name__


def describe_failure(exc: BaseException) -> str:
    """An error outside the file, in one line (credentials in URLs hidden)."""
    text = str(exc).splitlines()[0][:500] if str(exc) else ""
    return redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def content_error(check: Callable[[Path], str | None], path: Path) -> str | None:
    """What is wrong with a file's content: ``check``'s answer, or the error it ran into."""
    try:
        return check(path)
    except Exception as exc:  # noqa: BLE001  (whatever this file does to the code)
        return describe(exc)
