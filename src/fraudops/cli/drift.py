"""``fraudops demo --drift``: the loop closing, day by day, on the terminal."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from fraudops.cli.common import facts, out, safe

if TYPE_CHECKING:  # for the signatures only: the modules load when a command runs
    from fraudops.config import Settings
    from fraudops.scenario import Day

NORMAL_DAYS = 5  # days of production before the drift switch


def _line(day: Day) -> str:
    o, h = day.check.observed, day.check.health
    colour = {"healthy": "green", "unknown": "blue"}.get(h.status.value, "yellow")
    parts = [
        f"{day.day} {'drift ' if day.drifted else '      '}v{day.check.model_version}",
        f"[{colour}]{h.status.value:<8}[/]",
    ]
    if h.drifting_features:
        top = h.drifting_features[:2]
        parts.append("drifting: " + ", ".join(f"{f} {o.feature_psi[f]:.2f}" for f in top))
    if o.matured_ap is not None and o.matured_frauds:
        parts.append(f"matured AP {o.matured_ap:.3f}")
    if h.alarm and not day.check.retrain.due:
        parts.append("(too soon to retrain)")
    if day.retrained is not None:
        d = day.retrained
        verdict = "[green]promoted[/]" if d.promote else "[yellow]refused[/]"
        parts.append(f"-> retrained v{d.candidate_version}: {verdict} ({safe(d.reason)})")
    return "  ".join(parts)


def first_production_day(settings: Settings) -> dt.date:
    """The day after the default history: simulated production starts there, and the sample."""
    return settings.start_date + dt.timedelta(days=settings.days)


def run_drift_demo(settings: Settings, *, days: int) -> None:
    """Simulate production after the history, with a drift switch, and tell what happened."""
    from fraudops.scenario import run_scenario

    first = first_production_day(settings)
    drifted = settings.model_copy(
        update={"drift_from": settings.drift_from or first + dt.timedelta(days=NORMAL_DAYS)}
    )
    assert drifted.drift_from is not None
    out.print(
        f"\nsimulating {days} days of production from {first}; the drift switch is "
        f"{drifted.drift_from} (each day: generate, score, check; an alarm retrains)"
    )
    story = run_scenario(drifted, first_day=first, days=days, on_day=lambda d: out.print(_line(d)))
    summary = facts(title="the loop, closed")
    found = story.detected
    summary.add_row("drift switch", str(story.drift_from))
    summary.add_row(
        "detected",
        f"{found.day} ({story.windows_to_detect} daily window(s)): "
        + ", ".join(found.check.health.drifting_features or [found.check.health.status.value])
        if found
        else "not detected",
    )
    for day in story.promoted:
        assert day.retrained is not None
        summary.add_row(f"promoted {day.day}", f"v{day.retrained.candidate_version}")
    before, after = story.matured_ap_before, story.matured_ap_after
    summary.add_row(
        "matured AP before the drift", f"{before:.3f} (a week of checks)" if before else "n/a"
    )
    summary.add_row(
        "matured AP at the end",
        f"{after:.3f} (the last week of checks of v{story.days[-1].check.model_version})"
        if after
        else "n/a (its predictions have not matured yet)",
    )
    out.print(summary)
