"""The ``fraudops`` command: every lifecycle step by hand, with progress bars."""

from __future__ import annotations

import gc
import sys

from fraudops.cli import (  # noqa: F401  (they register the commands)
    batch,
    features,
    lifecycle,
    monitoring,
    release,
    services,
    shadow,
)
from fraudops.cli.common import COMMAND_COLLECTION, app, guarded

__all__ = ["app", "main"]

# `fraudops --help` lists the commands in the order of the lifecycle
ORDER = (
    "generate",
    "train",
    "promote",
    "approve",
    "reject",
    "rollback",
    "history",
    "status",
    "demo",
    "score-inbox",
    "replay",
    "monitor",
    "compact",
    "serve",
    "airflow",
)
app.registered_commands.sort(
    key=lambda c: ORDER.index(c.name or (c.callback.__name__ if c.callback else ""))
)


def main() -> None:
    """Console-script entry point: one clear line for user-fixable errors, no traceback."""
    gc.set_threshold(*COMMAND_COLLECTION)
    try:
        guarded(lambda: app(standalone_mode=True))
    finally:
        # the interpreter's exit collects every object the imports made, again and again as it
        # clears the modules: frozen, they are freed without that, and atexit handlers still
        # run (`python -m bench.startup` times the commands)
        gc.freeze()
    sys.exit(0)
