"""What a process that only scores imports to load a model, without what only training needs.

MLflow imports Spark's types when it finds pyspark installed, and XGBoost its scikit-learn
wrappers when it finds scikit-learn (which imports most of SciPy). A process that only
scores uses neither: it reads the registry and runs a native booster. Hiding them while
MLflow and XGBoost load takes that work (one to two seconds on 2 cores) off the start of
every API worker and of every `fraudops score-inbox` that finds a file to score.

The hiding lasts: XGBoost's scikit-learn wrappers (and so its Spark estimator) stay without
their scikit-learn base classes for the life of the process. So only a process that never
trains may ask for it: the API's workers always, the inbox's runs when the process says so
within :func:`scoring_only` (`fraudops score-inbox`, not `dag.test()` or the demo, which train
in the same process).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

NOT_SERVED = ("pyspark", "sklearn")
_scoring_only = False


def scoring_environment() -> None:
    """Set the environment a scoring process's model libraries read when they load.

    Call it first, from the main thread, before threads start processes: a process started
    from one thread while another adds a variable reads the environment mid-change (its
    exec fails silently, with exit code 255). The API calls it in ``create_app``.
    """
    # nothing fetches from the internet at run time: MLflow's usage telemetry starts on import
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # OpenMP (XGBoost's threads) reads this when XGBoost loads. Between two parallel calls
    # its idle threads spin for a while by default: right for training's back-to-back rounds,
    # a waste beside a server's event loop, whose TreeSHAP passes come every few milliseconds
    # (CPU per explained request: `make bench ARGS=explain`). A scoring process lets them sleep.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def import_model_libraries() -> None:
    """Import MLflow and XGBoost once, leaving out their optional Spark and scikit-learn parts."""
    scoring_environment()  # already set where the process called it first: nothing written
    hidden = [name for name in NOT_SERVED if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # None: "not installed"
    try:
        import mlflow  # noqa: F401
        import xgboost  # noqa: F401
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


@contextmanager
def scoring_only() -> Iterator[None]:
    """Within: this process only scores, so a first model load imports the lean way."""
    global _scoring_only
    scoring_environment()
    _scoring_only = True
    try:
        yield
    finally:
        _scoring_only = False


def before_model_load() -> None:
    """Import the model libraries the lean way if this process said it only scores."""
    if _scoring_only and "xgboost" not in sys.modules:
        import_model_libraries()
