import datetime as dt

import numpy as np
import pytest

from fraudops.cardhistory import HISTORY_FEATURES, enrich
from fraudops.datagen import generate_day
from fraudops.features import (
    FEATURE_NAMES,
    build_features,
    columns_from_records,
    columns_from_table,
    features_from_table,
    haversine_km,
)


def test_records_and_tables_give_the_same_matrix():
    table = enrich(generate_day(dt.date(2026, 1, 5), rows=500))
    records = table.drop_columns(["is_fraud"]).to_pylist()
    history = {name: table[name].to_numpy() for name in HISTORY_FEATURES}
    from_records = build_features(columns_from_records(records, history))
    assert from_records.shape == (500, len(FEATURE_NAMES))
    np.testing.assert_array_equal(from_records, features_from_table(table))
    np.testing.assert_array_equal(from_records, features_from_table(table.to_pandas()))


def test_haversine_known_distance():
    # New York -> London is about 5,570 km
    d = haversine_km(
        np.array([40.7128]), np.array([-74.0060]), np.array([51.5074]), np.array([-0.1278])
    )
    assert d[0] == pytest.approx(5570, rel=0.01)
    assert (
        haversine_km(np.array([10.0]), np.array([10.0]), np.array([10.0]), np.array([10.0]))[0] == 0
    )


def test_unknown_category_is_rejected_not_zeroed():
    table = generate_day(dt.date(2026, 1, 5), rows=10).to_pandas()
    table.loc[0, "merchant_category"] = "casino"
    with pytest.raises(ValueError, match="unknown category"):
        columns_from_table(table)


def test_derived_features():
    table = generate_day(dt.date(2026, 1, 5), rows=200)
    x = features_from_table(enrich(table))
    names = list(FEATURE_NAMES)
    amount = table["transaction_amount"].to_numpy()
    bank = table["bank_account_balance"].to_numpy()
    np.testing.assert_allclose(
        x[:, names.index("amount_to_bank_balance")], amount / (bank + 1), rtol=1e-6
    )
    hours = np.array([t.hour for t in table["event_ts"].to_pylist()])
    np.testing.assert_array_equal(x[:, names.index("hour")], hours)
