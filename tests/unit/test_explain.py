"""Reason codes: TreeSHAP contributions in the model's own terms, said in words."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from fraudops import datagen, explain
from fraudops.cardhistory import enrich
from fraudops.features import FEATURE_NAMES, features_from_table
from fraudops.scoring import FraudScorer, score_table
from tests.support.models import small_scorer


@pytest.fixture(scope="module")
def scorer() -> FraudScorer:
    data = enrich(datagen.generate_day(dt.date(2026, 1, 1), rows=3_000, fraud_rate=0.05))
    return small_scorer(
        data, params={"max_depth": 4, "objective": "binary:logistic"}, rounds=30, threshold=0.3
    )


@pytest.fixture(scope="module")
def day():
    day = datagen.generate_day(dt.date(2026, 2, 1), rows=400, seed=3, fraud_rate=0.2)
    return enrich(day.drop_columns(["is_fraud"]))


def test_contributions_and_bias_sum_to_the_margin(scorer: FraudScorer, day) -> None:
    matrix = features_from_table(day)
    contribs = explain.contributions(scorer, matrix)
    assert contribs.shape == (day.num_rows, len(FEATURE_NAMES) + 1)
    margin = contribs.sum(axis=1)
    proba, _ = score_table(scorer, day)
    np.testing.assert_allclose(1 / (1 + np.exp(-margin)), proba, rtol=1e-4, atol=1e-6)


def test_reasons_follow_the_contributions_order(scorer: FraudScorer, day) -> None:
    matrix = features_from_table(day)
    contribs = explain.contributions(scorer, matrix)
    found = explain.reasons(matrix, contribs, top=3)
    proba, _ = score_table(scorer, day)
    riskiest = int(np.argmax(proba))
    assert found[riskiest], "the riskiest transaction has reasons"
    for i, row in enumerate(found):
        positive = sorted((c for c in contribs[i, :-1] if c > 0), reverse=True)[:3]
        assert [r.contribution for r in row] == pytest.approx(positive, rel=1e-6)
        for r in row:
            j = FEATURE_NAMES.index(r.feature)
            assert r.contribution == pytest.approx(float(contribs[i, j]))
            assert r.text


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("amount_to_card_mean_30d", 12.4, "amount 12× the usual for this card"),
        ("amount_to_card_mean_30d", 3.14, "amount 3.1× the usual for this card"),
        ("distance_from_home_km", 4_100.2, "4,100 km from home"),
        ("card_txns_1h", 5, "5 transactions on this card in the last hour"),
        ("card_txns_24h", 1, "1 transaction on this card in the last 24 hours"),
        ("seconds_since_last", float("nan"), "the first transaction seen on this card in 30 days"),
        ("new_merchant_30d", 1, "a merchant this card has not paid in 30 days"),
        ("channel", explain.CHANNELS.index("online"), "paid online"),
        ("channel", explain.CHANNELS.index("atm"), "cash from an ATM"),
        ("merchant_category", explain.MERCHANT_CATEGORIES.index("gas_station"), "at a gas station"),
    ],
)
def test_a_value_in_words(feature: str, value: float, text: str) -> None:
    row = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    assert explain.words(feature, value, row) == text


def test_card_not_present_says_when_and_the_category_says_which() -> None:
    row = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    row[FEATURE_NAMES.index("merchant_category")] = 5
    when = dt.datetime(2026, 2, 1, 3, 12, tzinfo=dt.UTC)
    assert explain.words("card_present", 0.0, row, when) == "card not present at 03:12"
    row[FEATURE_NAMES.index("merchant_category")] = explain.MERCHANT_CATEGORIES.index("gas_station")
    assert explain.words("amount_to_category_median", 12.0, row) == (
        "amount 12× the usual for gas stations"
    )


def test_a_batch_gets_one_reasons_string_per_row(scorer: FraudScorer, day) -> None:
    column = explain.reasons_column(scorer, day)
    assert len(column) == day.num_rows
    assert any("; " in text for text in column.to_pylist())
