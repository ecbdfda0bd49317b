"""Pure feature engineering: raw transactions -> model matrix (shared by training and serving).

Two adaptors bring inputs to the same numeric columns — :func:`columns_from_table` for Arrow
tables and pandas frames (training, batch) and :func:`columns_from_records` for validated
records (the API hot path, no pandas; :func:`columns_from_values` when the batch's columns were
taken once with :func:`record_values`) — and :func:`build_features` turns those into the matrix.
The card-history features (:mod:`fraudops.cardhistory`) come from a table's columns (added by
``cardhistory.enrich``) or, for records, from the online executor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops.cardhistory.definition import HISTORY_FEATURES
from fraudops.geo import haversine_km
from fraudops.schema import CHANNELS, FEATURE_INPUT_NAMES, MERCHANT_CATEGORIES

# median amount per merchant category, in the order of MERCHANT_CATEGORIES
CATEGORY_MEDIAN_AMOUNT = np.array([45, 30, 50, 60, 250, 420, 300, 40, 70, 120], dtype=np.float64)
_CAT_CODE = {name: i for i, name in enumerate(MERCHANT_CATEGORIES)}
_CH_CODE = {name: i for i, name in enumerate(CHANNELS)}

NUMERIC_INPUTS: tuple[str, ...] = (
    "transaction_amount",
    "latitude",
    "longitude",
    "home_latitude",
    "home_longitude",
    "age",
    "credit_card_balance",
    "bank_account_balance",
    "savings_account_balance",
    "mortgage_balance",
    "total_est_nworth",
)

BASE_FEATURES: tuple[str, ...] = (
    "merchant_category",
    "channel",
    "card_present",
    "hour",
    "transaction_amount",
    "amount_to_category_median",
    "amount_to_bank_balance",
    "distance_from_home_km",
    "age",
    "credit_card_balance",
    "bank_account_balance",
    "savings_account_balance",
    "mortgage_balance",
    "total_est_nworth",
)
FEATURE_NAMES: tuple[str, ...] = (*BASE_FEATURES, *HISTORY_FEATURES)
# XGBoost feature types: 'c' categorical (native splits, no one-hot), 'q' quantitative
FEATURE_TYPES: tuple[str, ...] = ("c", "c") + ("q",) * (len(FEATURE_NAMES) - 2)
# features with a few distinct values: drift compares them value by value, not by deciles
DISCRETE_FEATURES: tuple[str, ...] = (
    "merchant_category",
    "channel",
    "card_present",
    "hour",
    "new_merchant_30d",
)

Columns = Mapping[str, np.ndarray]
# the records' fields the model reads (ids and the card's merchant only feed card history)
_MODEL_INPUTS = (*NUMERIC_INPUTS, "event_ts", "card_present", "merchant_category", "channel")


def _to_numpy(values: Any, dtype: type) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=dtype)
    return np.asarray(values, dtype=dtype)


def _codes(values: Any, categories: Sequence[str]) -> np.ndarray:
    arr = values if isinstance(values, pa.ChunkedArray | pa.Array) else pa.array(values)
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(pa.string())
    codes = pc.index_in(arr, value_set=pa.array(categories))
    if codes.null_count:
        raise ValueError("unknown category value")
    return _to_numpy(codes, np.float32)


def columns_from_table(table: pa.Table | Any) -> dict[str, np.ndarray]:
    """Numeric input columns from an Arrow table or a pandas DataFrame."""
    get = table.column if isinstance(table, pa.Table) else table.__getitem__
    cols = {name: _to_numpy(get(name), np.float64) for name in NUMERIC_INPUTS}
    ts = get("event_ts")
    ts_arr = ts if isinstance(ts, pa.ChunkedArray | pa.Array) else pa.array(ts)
    cols["hour"] = _to_numpy(pc.hour(ts_arr), np.float32)
    cols["card_present"] = _to_numpy(get("card_present"), np.float32)
    cols["merchant_category"] = _codes(get("merchant_category"), MERCHANT_CATEGORIES)
    cols["channel"] = _codes(get("channel"), CHANNELS)
    names = table.column_names if isinstance(table, pa.Table) else list(table.columns)
    missing = [name for name in HISTORY_FEATURES if name not in names]
    if missing:
        raise ValueError(
            f"no card-history features ({', '.join(missing[:3])}...): cardhistory.enrich first"
        )
    for name in HISTORY_FEATURES:
        cols[name] = _to_numpy(get(name), np.float64)
    return cols


def record_values(
    records: Sequence[Any], names: Sequence[str] = FEATURE_INPUT_NAMES
) -> dict[str, tuple[Any, ...]]:
    """The ``names`` columns of validated records (dicts or attribute objects), as tuples.

    One pass over the records (a getter per record, then a transpose), shared by the model's
    columns (:func:`columns_from_values`) and the inference log's rows on the API's path.
    """
    if not records:
        return {name: () for name in names}
    get = itemgetter(*names) if isinstance(records[0], Mapping) else attrgetter(*names)
    if len(names) == 1:
        return {names[0]: tuple(map(get, records))}
    return dict(zip(names, zip(*map(get, records), strict=True), strict=True))


def columns_from_values(
    values: Mapping[str, Sequence[Any]], history: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Numeric input columns from records' columns (:func:`record_values`) and their history."""
    n = len(values["transaction_amount"])
    cols = {name: np.array(values[name], dtype=np.float64) for name in NUMERIC_INPUTS}
    cols["hour"] = np.fromiter((t.hour for t in values["event_ts"]), np.float32, n)
    cols["card_present"] = np.array(values["card_present"], dtype=np.float32)
    cols["merchant_category"] = np.fromiter(
        (_CAT_CODE[c] for c in values["merchant_category"]), np.float32, n
    )
    cols["channel"] = np.fromiter((_CH_CODE[c] for c in values["channel"]), np.float32, n)
    for name in HISTORY_FEATURES:
        cols[name] = history[name]
    return cols


def columns_from_records(
    records: Sequence[Mapping[str, Any]], history: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Numeric input columns from validated records and their card-history features.

    ``records`` are dicts or attribute objects with datetimes; ``history`` comes from
    ``cardhistory.online``.
    """
    return columns_from_values(record_values(records, _MODEL_INPUTS), history)


def build_features(cols: Columns, out: np.ndarray | None = None) -> np.ndarray:
    """The model matrix (float32, columns in ``FEATURE_NAMES`` order) from numeric columns.

    ``out``: rows of a larger matrix to fill (a file's matrix, built a batch at a time).
    """
    amount = cols["transaction_amount"]
    cat = cols["merchant_category"]
    n = len(amount)
    if out is None:
        out = np.empty((n, len(FEATURE_NAMES)), dtype=np.float32)
    out[:, 0] = cat
    out[:, 1] = cols["channel"]
    out[:, 2] = cols["card_present"]
    out[:, 3] = cols["hour"]
    out[:, 4] = amount
    out[:, 5] = amount / CATEGORY_MEDIAN_AMOUNT[cat.astype(np.intp)]
    out[:, 6] = amount / (cols["bank_account_balance"] + 1.0)
    out[:, 7] = haversine_km(
        cols["latitude"], cols["longitude"], cols["home_latitude"], cols["home_longitude"]
    )
    for j, name in enumerate(FEATURE_NAMES[8:], start=8):
        out[:, j] = cols[name]
    return out


def features_from_table(table: pa.Table | Any) -> np.ndarray:
    """Shortcut: model matrix from an Arrow table or a pandas DataFrame."""
    return build_features(columns_from_table(table))
