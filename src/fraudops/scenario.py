"""The drift scenario: days of production after training, a drift switch, the loop closing.

Each simulated day: the day's transactions and label events are generated into the lake,
replayed through the production model (the inference log), and a monitoring check runs as
of that day. An alarm retrains on the lake as it is that day and puts the candidate through
the gate, at most once per ``cooldown_days`` (labels of a drift take the maturity window to
reach training; retraining every day before that only repeats the refusal).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from fraudops import generate, registry, replay, train
from fraudops.config import Settings
from fraudops.gate import Decision
from fraudops.monitoring import Check, monitor


@dataclass(frozen=True)
class Day:
    """One simulated day: the check's verdict and, when it retrained, the gate's decision."""

    day: dt.date
    drifted: bool
    check: Check
    retrained: Decision | None = None


@dataclass(frozen=True)
class Story:
    """What the scenario showed."""

    drift_from: dt.date
    maturity_days: int
    days: list[Day] = field(default_factory=list)

    @property
    def detected(self) -> Day | None:
        """The first drifted day whose check raised the alarm."""
        return next((d for d in self.days if d.drifted and d.check.health.alarm), None)

    @property
    def promoted(self) -> list[Day]:
        """The days a retrain was promoted."""
        return [d for d in self.days if d.retrained is not None and d.retrained.promote]

    @property
    def matured_ap_before(self) -> float | None:
        """Matured AP of the last check whose labelled window ended before the drift."""
        mature_before = self.drift_from + dt.timedelta(days=self.maturity_days)
        judged = [
            d.check.observed.matured_ap
            for d in self.days
            if d.check.as_of < mature_before and d.check.observed.matured_ap is not None
        ]
        return judged[-1] if judged else None

    @property
    def matured_ap_after(self) -> float | None:
        """Matured AP of the last check (the model in production at the end)."""
        return self.days[-1].check.observed.matured_ap if self.days else None


def run_scenario(
    settings: Settings,
    *,
    first_day: dt.date,
    days: int,
    cooldown_days: int = 7,
    on_day: Callable[[Day], None] | None = None,
) -> Story:
    """Simulate ``days`` of production from ``first_day`` (drift from ``settings.drift_from``)."""
    assert settings.drift_from is not None, "the scenario needs FRAUDOPS_DRIFT_FROM"
    story = Story(settings.drift_from, settings.label_maturity_days)
    last_retrain: dt.date | None = None
    for i in range(days):
        day = first_day + dt.timedelta(days=i)
        generate.generate(settings, start=day, days=1)
        replay.replay(settings, start=day)
        check = monitor(settings, as_of=day, report=False)
        decision = None
        cooling = last_retrain is not None and (day - last_retrain).days < cooldown_days
        if check.health.alarm and not cooling:
            why = f"monitor {day}: {check.health.status}: {'; '.join(check.health.reasons)}"
            trained = train.train_and_register(settings, trigger=why[:500])
            decision = registry.promote(settings, version=trained.version)
            last_retrain = day
        entry = Day(day, day >= settings.drift_from, check, decision)
        story.days.append(entry)
        if on_day:
            on_day(entry)
    return story
