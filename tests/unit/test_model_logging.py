"""Logging a model: the installed packages can be mapped ahead of the first ``log_model``."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_prepare_logging_builds_the_map_log_model_checks_requirements_with() -> None:
    # a fresh process: the map is built once per process, and other tests may have built it
    script = textwrap.dedent(
        """
        from mlflow.utils import requirements_utils as r
        assert r._PACKAGES_TO_MODULES is None
        from fraudops import model
        model.prepare_logging()
        assert r._PACKAGES_TO_MODULES["xgboost-cpu"] == "xgboost", r._PACKAGES_TO_MODULES
        # log_model's check finds every pinned requirement installed, with no new scan
        r.importlib_metadata.packages_distributions = None  # a scan now would fail
        assert r._check_requirement_satisfied("mlflow") is None
        assert all(r._check_requirement_satisfied(p) is None for p in model._requirements())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
