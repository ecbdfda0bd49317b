"""Where the heavy steps run (a setting, and a CLI option that must not load the settings)."""

from __future__ import annotations

import enum


class Engine(enum.StrEnum):
    """Where the heavy steps run."""

    IN_PROCESS = "in-process"  # pandas / pyarrow / numpy in this process
    SPARK = "spark"  # the same code on Spark executors (fraudops.spark)
