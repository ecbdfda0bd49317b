"""The drift scenario: days of production after training, a drift switch, the loop closing.

Each simulated day: the day's transactions and label events are generated into the lake,
replayed through the production model (the inference log), and a monitoring check runs as
of that day. When the check says to retrain (an alarm, and enough new days since the last
training: :mod:`fraudops.monitoring.retrain`, the rule ``fraud_train_and_promote`` follows),
the lake as it is that day trains a candidate, which goes through the gate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from fraudops import generate, registry, replay, train
from fraudops.config import Settings
from fraudops.gate import Decision
from fraudops.monitoring import Check, monitor

WEEK = 7  # checks averaged for a matured AP figure: one 7-day window is noisy


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

    drift_from: dt.date | None  # None: no drift switch in the days simulated
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
    def windows_to_detect(self) -> int | None:
        """Daily windows from the drift switch to the alarm (1: the switch's own day)."""
        found = self.detected
        if found is None or self.drift_from is None:
            return None
        return (found.day - self.drift_from).days + 1

    @property
    def alarms(self) -> list[Day]:
        """The days a check raised the alarm."""
        return [d for d in self.days if d.check.health.alarm]

    @property
    def matured_ap_before(self) -> float | None:
        """Mean matured AP of the last week of checks whose labels all predate the drift."""
        if self.drift_from is None:
            return None
        mature_before = self.drift_from + dt.timedelta(days=self.maturity_days)
        return _mean_ap([d for d in self.days if d.check.as_of < mature_before])

    @property
    def matured_ap_after(self) -> float | None:
        """Mean matured AP of the last week of checks of retrained models (labels matured).

        A model promoted in the last days has no matured check yet: the week measured is the
        latest one that has them, of whichever retrained model served it.
        """
        if not self.days:
            return None
        first = self.days[0].check.model_version
        return _mean_ap([d for d in self.days if d.check.model_version != first])


def _mean_ap(days: list[Day]) -> float | None:
    """The mean matured AP of the last ``WEEK`` of ``days`` whose check measured one."""
    found = [d.check.observed.matured_ap for d in days]
    values = [v for v in found if v is not None][-WEEK:]
    return sum(values) / len(values) if values else None


def run_scenario(
    settings: Settings,
    *,
    first_day: dt.date,
    days: int,
    on_day: Callable[[Day], None] | None = None,
) -> Story:
    """Simulate ``days`` of production from ``first_day`` (drift from ``settings.drift_from``)."""
    story = Story(settings.drift_from, settings.label_maturity_days)
    for i in range(days):
        day = first_day + dt.timedelta(days=i)
        generate.generate(settings, start=day, days=1)
        replay.replay(settings, start=day)
        check = monitor(settings, as_of=day, report=False)
        decision = None
        if check.retrain.due:
            why = f"monitor {day}: {check.health.status}: {'; '.join(check.health.reasons)}"
            trained = train.train_and_register(settings, trigger=why[:500])
            decision = registry.promote(settings, version=trained.version)
        drifted = settings.drift_from is not None and day >= settings.drift_from
        entry = Day(day, drifted, check, decision)
        story.days.append(entry)
        if on_day:
            on_day(entry)
    return story
