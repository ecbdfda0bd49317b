import datetime as dt

import numpy as np
import pyarrow.compute as pc
import pytest

from fraudops.datagen import generate_day, generate_days
from fraudops.features import haversine_km
from fraudops.schema import CHANNELS, MERCHANT_CATEGORIES, TRANSACTION_COLUMNS, arrow_schema

DAY = dt.date(2026, 3, 1)


@pytest.fixture(scope="module")
def big():
    return generate_day(DAY, rows=200_000, seed=7).to_pandas()


def test_same_day_same_rows_whatever_else_was_generated():
    a = generate_day(DAY, rows=5_000, seed=3)
    generate_day(DAY + dt.timedelta(days=1), rows=5_000, seed=3)
    b = generate_day(DAY, rows=5_000, seed=3)
    assert a.equals(b)
    assert not a.equals(generate_day(DAY, rows=5_000, seed=4))
    other = generate_day(DAY + dt.timedelta(days=1), rows=5_000, seed=3)
    assert not a["transaction_amount"].equals(other["transaction_amount"])


def test_rows_follow_the_contract(big):
    table = generate_day(DAY, rows=5_000)
    assert table.schema == arrow_schema(with_label=True)
    assert set(big.merchant_category) <= set(MERCHANT_CATEGORIES)
    assert set(big.channel) <= set(CHANNELS)
    assert big.transaction_id.is_unique
    assert (big.event_ts.dt.date == DAY).all()
    for col in TRANSACTION_COLUMNS:
        values = big[col.name]
        if col.kind in ("float", "int"):
            assert np.isfinite(values).all(), col.name
            if col.minimum is not None:
                assert (
                    (values > col.minimum).all()
                    if col.exclusive_minimum
                    else (values >= col.minimum).all()
                )
            if col.maximum is not None:
                assert (values <= col.maximum).all(), col.name
    assert (big.card_present == (big.channel != "online")).all()


@pytest.mark.parametrize("rate", [0.005, 0.01, 0.03])
def test_base_rate_is_configurable(rate):
    table = generate_day(DAY, rows=100_000, fraud_rate=rate)
    assert pc.mean(table["is_fraud"]).as_py() == pytest.approx(rate, rel=0.15)


def test_label_has_real_signal(big):
    fraud = big.is_fraud == 1
    rate = fraud.mean()
    dist = haversine_km(big.latitude, big.longitude, big.home_latitude, big.home_longitude)
    hour = big.event_ts.dt.hour
    assert fraud[~big.card_present].mean() > 2 * rate  # card not present
    assert fraud[dist > 500].mean() > 5 * rate  # far from home
    assert fraud[hour.between(0, 4)].mean() > 3 * rate  # night hours
    assert fraud[big.merchant_category.isin(["jewelry", "electronics"])].mean() > 2 * rate
    ratio = big.transaction_amount / (big.bank_account_balance + 1)
    assert fraud[ratio > 0.5].mean() > 5 * rate  # large for the balance
    assert fraud[big.merchant_category == "grocery"].mean() < rate
    # bursts: compromised cards make several fraudulent transactions the same day
    per_card = big[fraud].groupby("card_id").size()
    assert (per_card >= 2).sum() > 0.2 * len(per_card)


def test_drift_switch_changes_distributions_from_the_given_day():
    before = generate_day(DAY, rows=100_000, drift_from=DAY + dt.timedelta(days=1)).to_pandas()
    plain = generate_day(DAY, rows=100_000).to_pandas()
    assert before.equals(plain)  # no drift before the switch day
    after = generate_day(DAY, rows=100_000, drift_from=DAY).to_pandas()
    legit_b, legit_a = plain[plain.is_fraud == 0], after[after.is_fraud == 0]
    assert legit_a.transaction_amount.median() > 1.15 * legit_b.transaction_amount.median()

    # the new pattern: contactless account takeover near home in everyday categories
    def takeover(d):
        everyday = d.merchant_category.isin(["grocery", "health", "restaurant"])
        return ((d.is_fraud == 1) & (d.channel == "contactless") & everyday).sum()

    assert takeover(after) > 3 * max(takeover(plain), 1)


def test_generate_days_is_consecutive():
    days = generate_days(DAY, 3, rows=1_000)
    assert [d for d, _ in days] == [DAY + dt.timedelta(days=i) for i in range(3)]


def test_a_day_beyond_one_slice_is_its_slices_each_drawn_alone():
    from fraudops.datagen import SLICE_ROWS, generate_slice, label_events, slice_sizes
    from fraudops.datagen.labels import slice_label_events

    rows = SLICE_ROWS + 1_001
    sizes = slice_sizes(rows)
    assert sizes == [rows // 2 + 1, rows // 2] and max(sizes) <= SLICE_ROWS
    day = generate_day(DAY, rows=rows, seed=5)
    second = generate_slice(DAY, part=1, rows=rows, seed=5)  # alone, as an executor does
    assert day.slice(sizes[0]).equals(second)
    assert pc.count_distinct(day["transaction_id"]).as_py() == rows
    assert second["transaction_id"][0].as_py() == f"T20260301-{sizes[0]:07d}"
    assert pc.sum(second["is_fraud"]).as_py() > 0  # every slice has its fraud
    events = label_events(day, day=DAY, seed=5)
    alone = slice_label_events(second, day=DAY, seed=5, part=1)
    assert events.slice(events.num_rows - alone.num_rows).equals(alone)
