"""Reason codes: why the model scored a transaction as it did, in words an analyst reads.

The reasons come from XGBoost's own TreeSHAP contributions (the values of ``pred_contribs``,
read from a table made once per model: :mod:`fraudops.treeshap`): per row, one log-odds
contribution per feature plus the bias, summing to the model's margin. The top
reasons are the features that pushed the score up the most, each said with the transaction's
own value ("amount 12× the usual for this card", "4,100 km from home").
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fraudops import treeshap
from fraudops.features import FEATURE_NAMES, features_from_table
from fraudops.schema import CHANNELS, MERCHANT_CATEGORIES
from fraudops.scoring import FraudScorer

TOP = 3  # reasons per transaction
CORES = os.cpu_count() or 1
WIDE_ROWS = 1_000  # inputs of this many rows (files) are explained on every core
COLUMN = "reasons"  # the optional column of /predict/csv and the inbox's outbox files
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
WINDOW_WORDS = {"1h": "hour", "6h": "6 hours", "24h": "24 hours", "7d": "7 days"}


@dataclass(frozen=True)
class Reason:
    """One reason: a feature, its value, how much it raised the log-odds, and the words."""

    feature: str
    value: float | None
    contribution: float
    text: str


def contributions(scorer: FraudScorer, matrix: np.ndarray) -> np.ndarray:
    """TreeSHAP contributions per row: one column per feature, the bias last (log-odds).

    XGBoost's own values (``pred_contribs``), read from the model's TreeSHAP table
    (:mod:`fraudops.treeshap`); a model too deep for a table asks XGBoost.
    """
    if len(matrix) == 0:
        return np.zeros((0, len(FEATURE_NAMES) + 1), dtype=np.float32)
    table = treeshap.for_booster(scorer.booster)
    if table is not None:  # every core for files, one thread for requests
        return table.contributions(matrix, threads=CORES if len(matrix) >= WIDE_ROWS else 1)
    # no names or types on the matrix: the trees carry their split types, and naming 22
    # columns costs more than the row's TreeSHAP; one thread for small inputs (a thread
    # pool started for one row costs milliseconds)
    import xgboost as xgb  # loaded with the model, not when the API starts

    data = xgb.DMatrix(matrix, nthread=-1 if len(matrix) >= WIDE_ROWS else 1)
    return np.asarray(scorer.booster.predict(data, pred_contribs=True, validate_features=False))


def _times(value: float) -> str:
    return f"{value:.0f}×" if value >= 10 else f"{value:.1f}×"


def _count(n: float, window: str) -> str:
    noun = "transaction" if n == 1 else "transactions"
    return f"{n:,.0f} {noun} on this card in the last {WINDOW_WORDS[window]}"


def _clock(row: np.ndarray, when: dt.datetime | None) -> str:
    return when.strftime("%H:%M") if when else f"{int(row[_INDEX['hour']]):02d}h"


Words = Callable[[float, np.ndarray, dt.datetime | None], str]


def _counted(window: str) -> Words:
    return lambda v, r, t: _count(v, window)


def _spent(window: str) -> Words:
    return lambda v, r, t: f"{v:,.0f} spent on this card in the last {WINDOW_WORDS[window]}"


# each category said as a place ("at a gas station") and as a kind ("the usual for gas stations")
CATEGORY_WORDS = {
    "grocery": ("at a grocery", "groceries"),
    "restaurant": ("at a restaurant", "restaurants"),
    "gas_station": ("at a gas station", "gas stations"),
    "online_retail": ("at an online shop", "online shops"),
    "electronics": ("at an electronics shop", "electronics"),
    "travel": ("on travel", "travel"),
    "jewelry": ("at a jeweller", "jewelry"),
    "entertainment": ("on entertainment", "entertainment"),
    "health": ("on health", "health"),
    "atm_withdrawal": ("an ATM withdrawal", "ATM withdrawals"),
}
CHANNEL_WORDS = {
    "chip": "paid by chip",
    "swipe": "paid by swipe",
    "contactless": "paid contactless",
    "online": "paid online",
    "atm": "cash from an ATM",
}
assert set(CATEGORY_WORDS) == set(MERCHANT_CATEGORIES)
assert set(CHANNEL_WORDS) == set(CHANNELS)


def _category(code: float, form: int) -> str:
    return CATEGORY_WORDS[MERCHANT_CATEGORIES[int(code)]][form]


WORDS: dict[str, Words] = {
    "merchant_category": lambda v, r, t: _category(v, 0),
    "channel": lambda v, r, t: CHANNEL_WORDS[CHANNELS[int(v)]],
    "card_present": lambda v, r, t: (
        f"card present at {_clock(r, t)}" if v else f"card not present at {_clock(r, t)}"
    ),
    "hour": lambda v, r, t: f"at {_clock(r, t)}",
    "transaction_amount": lambda v, r, t: f"amount {v:,.2f}",
    "amount_to_category_median": lambda v, r, t: (
        f"amount {_times(v)} the usual for {_category(r[_INDEX['merchant_category']], 1)}"
    ),
    "amount_to_bank_balance": lambda v, r, t: f"amount {v:.0%} of the bank balance",
    "distance_from_home_km": lambda v, r, t: f"{v:,.0f} km from home",
    "age": lambda v, r, t: f"card holder aged {v:.0f}",
    "credit_card_balance": lambda v, r, t: f"credit card balance {v:,.0f}",
    "bank_account_balance": lambda v, r, t: f"bank balance {v:,.0f}",
    "savings_account_balance": lambda v, r, t: f"savings {v:,.0f}",
    "mortgage_balance": lambda v, r, t: f"mortgage {v:,.0f}",
    "total_est_nworth": lambda v, r, t: f"estimated net worth {v:,.0f}",
    **{f"card_txns_{w}": _counted(w) for w in ("1h", "6h", "24h", "7d")},
    **{f"card_amount_{w}": _spent(w) for w in ("1h", "24h", "7d")},
    "amount_to_card_mean_30d": lambda v, r, t: f"amount {_times(v)} the usual for this card",
    "seconds_since_last": lambda v, r, t: (
        f"{v / 60:,.0f} min since this card's previous transaction"
        if v >= 60
        else f"{v:.0f} s since this card's previous transaction"
    ),
    "km_from_last": lambda v, r, t: f"{v:,.0f} km from this card's previous transaction",
    "kmh_from_last": lambda v, r, t: f"{v:,.0f} km/h from this card's previous transaction",
    "new_merchant_30d": lambda v, r, t: (
        "a merchant this card has not paid in 30 days" if v else "a merchant this card knows"
    ),
}
MISSING = {
    "amount_to_card_mean_30d": "no earlier amount on this card in 30 days",
    "seconds_since_last": "the first transaction seen on this card in 30 days",
    "km_from_last": "the first transaction seen on this card in 30 days",
    "kmh_from_last": "the first transaction seen on this card in 30 days",
}
assert set(WORDS) == set(FEATURE_NAMES)


def words(feature: str, value: float, row: np.ndarray, when: dt.datetime | None = None) -> str:
    """A feature's value said as a person reads it."""
    if math.isnan(value):
        return MISSING.get(feature, f"{feature} unknown")
    return WORDS[feature](value, row, when)


def reasons(
    matrix: np.ndarray,
    contribs: np.ndarray,
    *,
    times: Sequence[dt.datetime] | None = None,
    top: int = TOP,
) -> list[list[Reason]]:
    """The ``top`` features that raised each row's score the most (positive contributions)."""
    found: list[list[Reason]] = []
    per_feature = contribs[:, :-1]
    order = np.argsort(-per_feature, axis=1, kind="stable")[:, :top]
    for i, row in enumerate(matrix):
        when = times[i] if times is not None else None
        found.append(
            [
                Reason(
                    feature=FEATURE_NAMES[j],
                    value=None if math.isnan(row[j]) else float(row[j]),
                    contribution=float(per_feature[i, j]),
                    text=words(FEATURE_NAMES[j], float(row[j]), row, when),
                )
                for j in order[i]
                if per_feature[i, j] > 0
            ]
        )
    return found


def explain_matrix(
    scorer: FraudScorer,
    matrix: np.ndarray,
    *,
    times: Sequence[dt.datetime] | None = None,
    top: int = TOP,
) -> list[list[Reason]]:
    """The top reasons of each row of a model matrix."""
    return reasons(matrix, contributions(scorer, matrix), times=times, top=top)


def reasons_column(scorer: FraudScorer, table: pa.Table, *, top: int = TOP) -> pa.Array:
    """One string per row of an enriched transactions table: its reasons joined by "; "."""
    matrix = features_from_table(table)
    times = table["event_ts"].to_pylist()
    found = explain_matrix(scorer, matrix, times=times, top=top)
    return pa.array(["; ".join(r.text for r in row) for row in found], pa.string())
