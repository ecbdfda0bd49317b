"""THE definition of the card-history features: windows, aggregates, derived values.

Every feature of a transaction is computed from the transactions **of the same card strictly
before it in event time** (a transaction never sees itself, a later one, or one at the very
same microsecond), within the last 30 days:

=========================== ===========================================================
``card_txns_{1h,6h,24h,7d}``      transactions in the window
``card_amount_{1h,24h,7d}``       their total amount
``amount_to_card_mean_30d``       this amount / the card's mean amount over 30 days
``seconds_since_last``            since the card's previous transaction (none: missing)
``km_from_last``                  distance from the previous transaction's place
``kmh_from_last``                 the speed that distance implies (impossible travel)
``new_merchant_30d``              1 if the card did not pay this merchant in 30 days
=========================== ===========================================================

Two executors compute them: :mod:`~fraudops.cardhistory.offline` over tables (training, the
inbox, replay) and :mod:`~fraudops.cardhistory.online` per request from a store. Both end in
:func:`derive`, so a derived value has one formula. ``VERSION`` names this definition: a
model records it, and a store records the version it holds.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fraudops.geo import haversine_km

VERSION = "card-history-1"
US = 1_000_000  # event times are integer microseconds
WINDOWS: dict[str, int] = {
    "1h": 3_600 * US,
    "6h": 6 * 3_600 * US,
    "24h": 24 * 3_600 * US,
    "7d": 7 * 86_400 * US,
    "30d": 30 * 86_400 * US,
}
HORIZON = WINDOWS["30d"]  # nothing older than this counts
# counts are features up to 7 days: a 30-day count mostly measures how old the lake is (a
# model trained on a young lake would read every mature card as busy)
COUNT_WINDOWS = ("1h", "6h", "24h", "7d")
HISTORY_DAYS = 31  # whole days before a day that hold every transaction within the horizon
AMOUNT_WINDOWS = ("1h", "24h", "7d", "30d")  # sums kept (30d for the mean)
MIN_HOURS = 1 / 60  # a speed over less than a minute is taken over a minute

# the columns of a transaction the features read
EVENT_COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "event_ts",
    "card_id",
    "merchant_id",
    "transaction_amount",
    "latitude",
    "longitude",
)

# days of history a feature needs before its value means what it means (a 7-day count on the
# third day of a lake is a 3-day count)
HISTORY_NEEDED_DAYS: dict[str, int] = {
    "card_txns_1h": 1,
    "card_txns_6h": 1,
    "card_txns_24h": 1,
    "card_txns_7d": 7,
    "card_amount_1h": 1,
    "card_amount_24h": 1,
    "card_amount_7d": 7,
    "amount_to_card_mean_30d": 30,
    "seconds_since_last": 30,
    "km_from_last": 30,
    "kmh_from_last": 30,
    "new_merchant_30d": 30,
}

HISTORY_FEATURES: tuple[str, ...] = (
    *(f"card_txns_{w}" for w in COUNT_WINDOWS),
    "card_amount_1h",
    "card_amount_24h",
    "card_amount_7d",
    "amount_to_card_mean_30d",
    "seconds_since_last",
    "km_from_last",
    "kmh_from_last",
    "new_merchant_30d",
)


assert set(HISTORY_NEEDED_DAYS) == set(HISTORY_FEATURES)


def derive(aggregates: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The features from per-transaction aggregates (both executors call this).

    ``aggregates``: ``count_{w}`` for every window, ``sum_{w}`` for ``AMOUNT_WINDOWS``,
    ``amount``, ``lat``, ``lon`` of the transaction, ``prev_dt_us``, ``prev_lat``,
    ``prev_lon`` (NaN without a previous transaction in the horizon) and ``merchant_seen``
    (transactions at this merchant in the horizon).
    """
    out: dict[str, np.ndarray] = {}
    for w in COUNT_WINDOWS:
        out[f"card_txns_{w}"] = aggregates[f"count_{w}"].astype(np.float64)
    for w in ("1h", "24h", "7d"):
        out[f"card_amount_{w}"] = aggregates[f"sum_{w}"].astype(np.float64)
    count = aggregates["count_30d"].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, aggregates["sum_30d"] / count, np.nan)
        out["amount_to_card_mean_30d"] = aggregates["amount"] / mean
        seconds = aggregates["prev_dt_us"] / US
        out["seconds_since_last"] = seconds
        km = haversine_km(
            aggregates["prev_lat"], aggregates["prev_lon"], aggregates["lat"], aggregates["lon"]
        )
        out["km_from_last"] = km
        out["kmh_from_last"] = km / np.maximum(seconds / 3_600, MIN_HOURS)
    out["new_merchant_30d"] = (aggregates["merchant_seen"] == 0).astype(np.float64)
    return out
