"""What a serving process imports to load a model, without what only training needs.

MLflow imports Spark's types when it finds pyspark installed, and XGBoost its scikit-learn
wrappers when it finds scikit-learn (which imports most of SciPy). The API uses neither: it
reads the registry and runs a native booster. Hiding them while MLflow and XGBoost load
takes that work (about a second on 2 cores) off every worker's start; they import normally
afterwards, for code that does use them.
"""

from __future__ import annotations

import os
import sys

NOT_SERVED = ("pyspark", "sklearn")


def import_model_libraries() -> None:
    """Import MLflow and XGBoost once, leaving out their optional Spark and scikit-learn parts."""
    # nothing fetches from the internet at run time: MLflow's usage telemetry starts on import
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
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
