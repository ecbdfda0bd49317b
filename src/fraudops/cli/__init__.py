"""The ``fraudops`` command: every lifecycle step by hand, with progress bars."""

from __future__ import annotations

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
from fraudops.cli.common import app, guarded

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
    guarded(lambda: app(standalone_mode=True))
    sys.exit(0)
