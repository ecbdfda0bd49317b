"""Settings for tests: an embedded home with small data, never a developer's ``.env``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fraudops.config import Settings

SMALL = {
    "start_date": dt.date(2026, 1, 1),
    "days": 10,
    "rows_per_day": 4_000,
    "valid_days": 2,
    "holdout_days": 2,
    "label_maturity_days": 3,  # 10 days: 7 mature, for train, 2 valid and 2 holdout
    "alert_budget": 40,
    "promotion_floor": 0.1,
}


def make_settings(home: Path, **overrides: object) -> Settings:
    """Settings on an embedded home, ignoring any .env in the working folder."""
    return Settings(_env_file=None, home=home, **{**SMALL, **overrides})  # type: ignore[call-arg]
