"""Closing the loop: false alarms, detection, recovery, and the cost of a check.

One default-sized history (30 days x 20,000 transactions, labels arriving late) trains and
promotes version 1. Then days of production are simulated, each one generated, replayed
through the production model into ``fraud.predictions`` and checked
(:func:`fraudops.scenario.run_scenario`, the same loop as ``fraudops demo --drift``): first
30 days from the same process, then the drift switch and the days it takes for the drift's
labels to mature and the retrains (one per alarm, at most one a week) to catch up.

Goals (issue: close the loop):

* no alarm in the 30 daily windows before the drift switch;
* after the switch, the alarm within 2 daily windows, the drifting features named;
* after the retrains, the matured AP of the model in production within 0.05 of its
  pre-drift figure;
* ``fraudops monitor`` on a 1,000,000-row window: its time (reported), with and without the
  HTML report.

The inference log's cost on ``/predict`` is measured side by side with logging off in
``bench/serve.py``.

    python -m bench monitoring          # via make bench (about 8 minutes)
    python -m bench.monitoring --normal-days 30 --drift-days 56
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from fraudops import generate, registry, replay, train
from fraudops.config import Settings
from fraudops.monitoring import monitor
from fraudops.scenario import Day, Story, run_scenario

GOAL_FALSE_ALARMS = 0
GOAL_WINDOWS = 2
GOAL_AP_GAP = 0.05
BIG_WINDOW_ROWS = 1_000_000


def _line(day: Day) -> str:
    o, h = day.check.observed, day.check.health
    top = ", ".join(f"{f} {o.feature_psi[f]:.2f}" for f in h.drifting_features[:2])
    ap = f"matured AP {o.matured_ap:.3f}" if o.matured_ap is not None else ""
    retrained = ""
    if day.retrained is not None:
        verdict = "promoted" if day.retrained.promote else "refused"
        retrained = f"-> v{day.retrained.candidate_version} {verdict}"
    flag = "drift" if day.drifted else "     "
    return (
        f"  {day.day} {flag} v{day.check.model_version} {h.status.value:<8} {top} {ap} {retrained}"
    )


def loop(settings: Settings, *, normal_days: int, drift_days: int) -> Story:
    """Train on the history, then simulate production with a drift switch."""
    t0 = time.perf_counter()
    generate.generate(settings)
    trained = train.train_and_register(settings, trigger="bench")
    decision = registry.promote(settings, version=trained.version)
    assert decision.promote, decision
    print(
        f"history: {settings.days} days x {settings.rows_per_day:,}; v{trained.version} "
        f"promoted (holdout AP {trained.holdout_metrics['average_precision']:.3f}) "
        f"in {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    first = settings.start_date + dt.timedelta(days=settings.days)
    drifting = settings.model_copy(update={"drift_from": first + dt.timedelta(days=normal_days)})
    return run_scenario(
        drifting,
        first_day=first,
        days=normal_days + drift_days,
        on_day=lambda d: print(_line(d), flush=True),
    )


def big_window(settings: Settings, day: dt.date) -> tuple[float, float, int]:
    """Seconds of a check on a 1,000,000-row day, without and with the report; rows checked."""
    calm = settings.model_copy(update={"drift_from": None})
    warm = day - dt.timedelta(days=1)
    for d, rows in ((warm, 20_000), (day, BIG_WINDOW_ROWS)):
        generate.generate(calm, start=d, days=1, rows_per_day=rows)
        replay.replay(calm, start=d)
    monitor(calm, as_of=warm, report=True)  # warm: imports (Evidently), MLflow, the catalog
    t0 = time.perf_counter()
    check = monitor(calm, as_of=day, report=False)
    plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    monitor(calm, as_of=day, report=True)
    with_report = time.perf_counter() - t0
    return plain, with_report, check.observed.rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.monitoring", description=__doc__)
    parser.add_argument("--normal-days", type=int, default=30)
    parser.add_argument("--drift-days", type=int, default=56)
    args = parser.parse_args(argv or [])
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp:
        settings = Settings(_env_file=None, home=Path(tmp) / "home")  # type: ignore[call-arg]
        t0 = time.perf_counter()
        story = loop(settings, normal_days=args.normal_days, drift_days=args.drift_days)
        loop_s = time.perf_counter() - t0
        last = story.days[-1].day
        plain, with_report, rows = big_window(settings, last + dt.timedelta(days=30))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert story.drift_from is not None
    false_alarms = [d for d in story.alarms if not d.drifted]
    windows = story.windows_to_detect
    found = story.detected
    before, after = story.matured_ap_before, story.matured_ap_after
    gap = abs(before - after) if before is not None and after is not None else None
    print(
        f"\n{len(story.days)} daily checks in {loop_s:.0f} s (generate, replay, check; "
        f"{len(story.promoted)} retrain(s) promoted); peak RSS {peak:,.0f} MiB"
    )
    print(
        f"fraudops monitor on a {rows:,}-row window: {plain:.1f} s, "
        f"{with_report:.1f} s with the HTML report"
    )
    checks = [
        (
            f"alarms in {args.normal_days} windows before the drift: {len(false_alarms)}",
            f"{GOAL_FALSE_ALARMS}",
            len(false_alarms) <= GOAL_FALSE_ALARMS,
        ),
        (
            f"drift detected after {windows} window(s)"
            + (f": {', '.join(found.check.health.drifting_features)}" if found else ""),
            f"<= {GOAL_WINDOWS}",
            windows is not None
            and windows <= GOAL_WINDOWS
            and bool(found and found.check.health.drifting_features),
        ),
        (
            f"matured AP {before if before is None else round(before, 3)} before the drift, "
            f"{after if after is None else round(after, 3)} at the end (gap "
            f"{'n/a' if gap is None else f'{gap:.3f}'})",
            f"<= {GOAL_AP_GAP}",
            gap is not None and gap <= GOAL_AP_GAP,
        ),
    ]
    for text, goal, ok in checks:
        print(f"  {text:<88} goal {goal:<6} {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main(sys.argv[1:])
