"""Monitoring the production model: drift of its inputs and scores, decay on matured labels.

``drift`` (PSI), ``rule`` (healthy, drifting, decayed or unknown), ``check`` (measuring, as
of a day), ``reference`` (the model's sample to compare with), ``report`` (Evidently's HTML
report), ``retrain`` (whether an alarm retrains), ``record`` (``monitor``: the check recorded
in MLflow and ``fraud.model_health``).
"""

from fraudops.monitoring.check import EXPERIMENT, Check
from fraudops.monitoring.record import monitor
from fraudops.monitoring.retrain import RetrainDecision
from fraudops.monitoring.rule import Health, HealthStatus, Limits, Observed, assess

__all__ = [
    "EXPERIMENT",
    "Check",
    "Health",
    "HealthStatus",
    "Limits",
    "Observed",
    "RetrainDecision",
    "assess",
    "monitor",
]
