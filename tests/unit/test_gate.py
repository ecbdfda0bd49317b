import numpy as np
import pytest

from fraudops.evaluation import choose_threshold, cost_curve, evaluate
from fraudops.gate import Score, should_promote


def s(ap: float, saved: float = 100.0) -> Score:
    return Score(ap, saved)


@pytest.mark.parametrize(
    ("candidate", "champion", "margin", "floor", "expected"),
    [
        (s(0.8), None, 0.0, 0.5, True),  # first model, above the floor
        (s(0.4), None, 0.0, 0.5, False),  # first model, below the floor
        (s(0.8, 120), s(0.7, 100), 0.0, 0.5, True),  # saves more
        (s(0.7, 100), s(0.7, 100), 0.0, 0.5, True),  # saves as much
        (s(0.8, 99), s(0.7, 100), 0.0, 0.5, False),  # saves less, whatever its AP
        (s(0.6, 99), s(0.7, 100), 2.0, 0.5, True),  # saves less, but within the margin
        (s(0.45, 500), s(0.2, 10), 0.0, 0.5, False),  # saves more, still below the AP floor
        (s(float("nan")), s(0.2), 0.0, 0.0, False),
        (s(0.8, float("nan")), s(0.7), 0.0, 0.5, False),
    ],
)
def test_should_promote(candidate, champion, margin, floor, expected):
    promote, reason = should_promote(candidate, champion, margin=margin, floor=floor)
    assert promote is expected
    assert reason


def test_evaluate_metrics():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.7, 0.8, 0.9])
    m = evaluate(y, p, 0.5)
    assert m["average_precision"] == pytest.approx(1.0)
    assert m["roc_auc"] == pytest.approx(1.0)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(1.0)
    assert m["f1"] == pytest.approx(0.8)


def test_cost_metrics_count_missed_amounts_and_false_alarms():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.7, 0.8, 0.9])
    amount = np.array([10.0, 10.0, 10.0, 300.0, 50.0])
    days = np.array([1, 1, 2, 2, 2])
    m = evaluate(y, p, 0.5, days=days, amount=amount, false_alarm_cost=5.0)
    assert m["alerts_per_day_at_threshold"] == pytest.approx(3 / 2)
    assert m["cost_saved_per_day"] == pytest.approx((350.0 - 5.0) / 2)
    assert m["fraud_amount_per_day"] == pytest.approx(350.0 / 2)


def test_the_threshold_spends_the_budget_when_every_alert_pays():
    rng = np.random.default_rng(0)
    n_days, per_day = 10, 1_000
    p = rng.random(n_days * per_day)
    y = p >= np.sort(p)[-800]  # the 800 top scores are frauds: each alert up to 80 a day pays
    amount = rng.uniform(20, 500, len(y))
    curve = cost_curve(y, p, amount, n_days=n_days, false_alarm_cost=10.0)
    for budget in (10, 30, 60):
        threshold = choose_threshold(curve, budget)
        assert int(np.sum(p >= threshold)) == budget * n_days  # the budgeted alert count


def test_the_threshold_stays_within_the_budget_and_close_to_it():
    rng = np.random.default_rng(1)
    n_days, per_day = 10, 1_000
    y = rng.random(n_days * per_day) < 0.05
    p = np.clip(rng.normal(0.3 + 0.4 * y, 0.15), 0, 1)
    amount = rng.uniform(20, 500, len(y))
    curve = cost_curve(y, p, amount, n_days=n_days, false_alarm_cost=10.0)
    for budget in (10, 30, 60):
        alerts = int(np.sum(p >= choose_threshold(curve, budget)))
        # it stops at the last fraud within the budget: a false alarm after it only costs
        assert 0.95 * budget * n_days <= alerts <= budget * n_days


def test_the_threshold_stops_where_alerts_stop_paying():
    y = np.array([1, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    amount = np.array([100.0, 100.0, 1.0, 1.0, 1.0, 1.0])
    curve = cost_curve(y, p, amount, n_days=1, false_alarm_cost=10.0)
    assert choose_threshold(curve, budget=5) == pytest.approx(0.8)  # 2 alerts, not 5
    assert choose_threshold(curve, budget=1) == pytest.approx(0.9)
    costly = cost_curve(y, p, amount, n_days=1, false_alarm_cost=1_000.0)
    assert choose_threshold(cost_curve(y * 0, p, amount, n_days=1, false_alarm_cost=1.0), 5) > 0.9
    assert choose_threshold(costly, budget=5) == pytest.approx(0.8)  # frauds first: no loss yet


def test_ties_alert_together():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.5, 0.5, 0.1])
    curve = cost_curve(y, p, np.full(4, 100.0), n_days=1, false_alarm_cost=1.0)
    assert curve.alerts_per_day.tolist() == [1, 3, 4]
    assert choose_threshold(curve, budget=2) == pytest.approx(0.9)
