"""The health rule and PSI: pure functions, so every branch is checked on hand-made figures."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import numpy as np
import pytest

from fraudops.monitoring.drift import psi, psi_table
from fraudops.monitoring.rule import HealthStatus, Limits, Observed, assess

LIMITS = Limits(psi=0.2, decay_margin=0.1, min_rows=1_000, min_frauds=400)
DAY = dt.date(2026, 3, 1)
CALM = Observed(
    window_from=DAY,
    window_to=DAY,
    rows=20_000,
    feature_psi={"channel": 0.01, "hour": 0.02, "transaction_amount": 0.005},
    score_psi=0.01,
    matured_rows=140_000,
    matured_frauds=900,
    matured_ap=0.72,
    matured_recall_at_budget=0.55,
    holdout_ap=0.74,
    holdout_recall_at_budget=0.56,
    label_coverage=0.9,
)


def test_same_distribution_has_psi_near_zero():
    rng = np.random.default_rng(1)
    assert psi(rng.lognormal(3, 1, 50_000), rng.lognormal(3, 1, 50_000)) < 0.01


def test_a_shifted_distribution_has_psi_above_the_limit():
    rng = np.random.default_rng(2)
    ref = rng.lognormal(3, 1, 50_000)
    assert psi(ref, ref * 1.1) < 0.2 < psi(ref, rng.lognormal(3.6, 1, 50_000))


def test_categorical_psi_counts_values_not_deciles():
    ref = np.array([0] * 700 + [1] * 300)
    moved = np.array([0] * 300 + [1] * 700)
    assert psi(ref, ref, categorical=True) == pytest.approx(0.0)
    # (0.7-0.3)ln(0.7/0.3) + (0.3-0.7)ln(0.3/0.7)
    assert psi(ref, moved, categorical=True) == pytest.approx(0.8 * math.log(7 / 3))


def test_a_value_never_seen_in_the_reference_stays_finite():
    value = psi(np.zeros(1000), np.ones(1000), categorical=True)
    assert math.isfinite(value) and value > 5


def test_an_empty_sample_has_no_psi():
    assert math.isnan(psi(np.array([]), np.ones(10)))
    assert psi_table({"a": np.ones(5), "b": np.ones(5)}, {"a": np.ones(5)}).keys() == {"a"}


def test_calm_figures_are_healthy():
    health = assess(CALM, LIMITS)
    assert health.status is HealthStatus.HEALTHY and not health.alarm
    assert health.reasons == ["within limits"]


def test_a_drifting_feature_raises_the_alarm_and_is_named_worst_first():
    observed = replace(CALM, feature_psi={**CALM.feature_psi, "channel": 0.4, "hour": 0.25})
    health = assess(observed, LIMITS)
    assert health.status is HealthStatus.DRIFTING and health.alarm
    assert health.drifting_features == ["channel", "hour"]
    assert health.reasons == ["channel PSI 0.400 > 0.2", "hour PSI 0.250 > 0.2"]


def test_the_score_alone_drifting_is_drift():
    health = assess(replace(CALM, score_psi=0.3), LIMITS)
    assert health.status is HealthStatus.DRIFTING
    assert health.drifting_features == []
    assert health.reasons == ["score PSI 0.300 > 0.2"]


def test_too_few_rows_leave_drift_unjudged():
    observed = replace(CALM, rows=999, feature_psi={"channel": 0.9}, score_psi=0.9)
    health = assess(observed, LIMITS)
    assert health.status is HealthStatus.HEALTHY
    assert "drift not judged: 999 predictions < 1000" in health.reasons


def test_matured_ap_below_the_holdout_is_decay_and_outranks_drift():
    observed = replace(CALM, matured_ap=0.60, feature_psi={"channel": 0.5})
    health = assess(observed, LIMITS)
    assert health.status is HealthStatus.DECAYED and health.alarm
    assert "matured AP 0.600 < holdout 0.740 - 0.1" in health.reasons
    assert "channel PSI 0.500 > 0.2" in health.reasons
    assert health.drifting_features == ["channel"]


def test_recall_at_the_budget_below_the_holdout_is_decay():
    health = assess(replace(CALM, matured_recall_at_budget=0.40), LIMITS)
    assert health.status is HealthStatus.DECAYED
    assert health.reasons == ["recall at the budget 0.400 < holdout 0.560 - 0.1"]


def test_exactly_at_the_margin_is_not_decay():
    health = assess(replace(CALM, matured_ap=0.4, holdout_ap=0.5), LIMITS)
    assert health.status is HealthStatus.HEALTHY


def test_too_few_matured_frauds_leave_decay_unjudged():
    health = assess(replace(CALM, matured_frauds=399, matured_ap=0.1), LIMITS)
    assert health.status is HealthStatus.HEALTHY
    assert health.reasons == ["decay not judged: 399 matured frauds < 400"]


def test_a_model_without_holdout_figures_is_not_judged_decayed():
    health = assess(
        replace(CALM, matured_ap=0.1, holdout_ap=None, matured_recall_at_budget=None), LIMITS
    )
    assert health.status is HealthStatus.HEALTHY


def test_a_nan_figure_is_never_decay():
    health = assess(replace(CALM, matured_ap=float("nan")), LIMITS)
    assert health.status is HealthStatus.HEALTHY


def test_nothing_scored_is_unknown_not_healthy():
    health = assess(replace(CALM, rows=0, feature_psi={}, score_psi=0.0), LIMITS)
    assert health.status is HealthStatus.UNKNOWN and not health.alarm
