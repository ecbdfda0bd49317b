"""The health rule: healthy, drifting or decayed, with reasons (pure; settings give the limits)."""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass, field


class HealthStatus(enum.StrEnum):
    """What a check concludes about the production model."""

    HEALTHY = "healthy"
    DRIFTING = "drifting"  # its inputs or scores moved away from what it was trained on
    DECAYED = "decayed"  # on matured labels it catches less fraud than its holdout promised
    UNKNOWN = "unknown"  # nothing scored in the window: nothing to judge


@dataclass(frozen=True)
class Limits:
    """When a check raises the alarm."""

    psi: float  # a feature or the score above this: drifting
    decay_margin: float  # matured AP (or recall at the budget) this far below the holdout's
    min_rows: int  # fewer predictions in the window: drift is not judged
    min_frauds: int  # fewer matured frauds: decay is not judged


@dataclass(frozen=True)
class Observed:
    """What a check measured."""

    window_from: dt.date
    window_to: dt.date
    rows: int
    feature_psi: dict[str, float]
    score_psi: float
    matured_rows: int
    matured_frauds: int
    matured_ap: float | None
    matured_recall_at_budget: float | None
    holdout_ap: float | None
    holdout_recall_at_budget: float | None
    label_coverage: float | None


@dataclass(frozen=True)
class Health:
    """A check's verdict and why."""

    status: HealthStatus
    reasons: list[str]
    drifting_features: list[str] = field(default_factory=list)

    @property
    def alarm(self) -> bool:
        """Whether the model needs attention (retraining is scheduled on this)."""
        return self.status in (HealthStatus.DRIFTING, HealthStatus.DECAYED)


def assess(observed: Observed, limits: Limits) -> Health:
    """Apply the rule: decayed before drifting before healthy; every finding is a reason."""
    reasons: list[str] = []
    drifting = sorted(
        (name for name, value in observed.feature_psi.items() if value > limits.psi),
        key=lambda name: -observed.feature_psi[name],
    )
    if observed.rows == 0:
        return Health(HealthStatus.UNKNOWN, ["no prediction of the production model in the window"])
    drift = observed.rows >= limits.min_rows and (drifting or observed.score_psi > limits.psi)
    if drift:
        if observed.score_psi > limits.psi:
            reasons.append(f"score PSI {observed.score_psi:.3f} > {limits.psi}")
        reasons += [
            f"{name} PSI {observed.feature_psi[name]:.3f} > {limits.psi}" for name in drifting
        ]
    elif observed.rows < limits.min_rows:
        reasons.append(f"drift not judged: {observed.rows} predictions < {limits.min_rows}")
    decayed = False
    if observed.matured_frauds >= limits.min_frauds:
        for what, now, then in (
            ("matured AP", observed.matured_ap, observed.holdout_ap),
            (
                "recall at the budget",
                observed.matured_recall_at_budget,
                observed.holdout_recall_at_budget,
            ),
        ):
            if now is not None and then is not None and _below(now, then - limits.decay_margin):
                decayed = True
                reasons.append(f"{what} {now:.3f} < holdout {then:.3f} - {limits.decay_margin}")
    else:
        reasons.append(
            f"decay not judged: {observed.matured_frauds} matured frauds < {limits.min_frauds}"
        )
    if decayed:
        return Health(HealthStatus.DECAYED, reasons, drifting if drift else [])
    if drift:
        return Health(HealthStatus.DRIFTING, reasons, drifting)
    return Health(HealthStatus.HEALTHY, reasons or ["within limits"], [])


def _below(value: float, limit: float) -> bool:
    return math.isfinite(value) and value < limit
