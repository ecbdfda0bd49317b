"""The inference log's rows: what each answered request becomes in ``fraud.predictions``.

An :class:`Entry` is one request's worth of predictions as the request path left it (its
records' columns, or an Arrow table of inputs); :func:`rows_of` makes many at once into one
Arrow table of the log's rows, column by column. A shadow model's entries give rows of the
transaction's key and the shadow's answers only (``schema.LOGGED_KEY``).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from fraudops.cardhistory import HISTORY_FEATURES
from fraudops.schema import (
    LOGGED_KEY,
    PRODUCTION_ROLE,
    SHADOW_ROLE,
    TRANSACTION_COLUMNS,
    arrow_schema,
)

_NAMES = tuple(c.name for c in TRANSACTION_COLUMNS)
TS = pa.timestamp("us", tz="UTC")


Values = Mapping[str, Sequence[Any]]  # records' columns, as ``features.record_values`` gives


@dataclass(frozen=True)
class Entry:
    """One request's worth of predictions (its records' columns or an Arrow table of inputs)."""

    inputs: Values | pa.Table
    proba: np.ndarray
    flags: np.ndarray
    model_name: str
    model_version: str
    predicted_at: dt.datetime
    source: str
    history: Mapping[str, np.ndarray] | None  # records' card-history features
    role: str = PRODUCTION_ROLE  # or SHADOW_ROLE: scored beside production, not answered

    @property
    def rows(self) -> int:
        """Transactions in the entry."""
        return len(self.proba)


_ANSWERS = {  # the answers' columns, after the inputs and their history
    "fraud_probability": pa.float64(),
    "is_fraud": pa.bool_(),
    "model_name": pa.string(),
    "model_version": pa.string(),
    "predicted_at": TS,
    "source": pa.string(),
    "role": pa.string(),
}


@functools.cache
def _rows_schema() -> pa.Schema:
    """The rows' schema: the inputs (as the contract has them), history, the answers.

    Only ``LOGGED_KEY`` is never null: a shadow's rows hold nothing else of the inputs.
    """
    inputs = [f.with_nullable(f.name not in LOGGED_KEY) for f in arrow_schema()]
    extra = [pa.field(name, pa.float64()) for name in HISTORY_FEATURES]
    extra += [pa.field(name, type_) for name, type_ in _ANSWERS.items()]
    return pa.schema([*inputs, *extra])


def rows_of(entries: Sequence[Entry]) -> pa.Table:
    """Entries as rows of ``fraud.predictions``, built column by column for all at once.

    A request's records are kept as the columns the request path took from them once (no
    model objects wait in the buffer for the collector to walk), so a flush only copies
    columns: one Arrow array per input column for all the records of the flush, and one
    table made once from them (a pack's fixed cost is what a small pack pays).
    """
    tables = [e for e in entries if isinstance(e.inputs, pa.Table)]
    records = [e for e in entries if not isinstance(e.inputs, pa.Table) and e.role != SHADOW_ROLE]
    shadows = [e for e in entries if not isinstance(e.inputs, pa.Table) and e.role == SHADOW_ROLE]
    schema = _rows_schema()
    parts: list[pa.Table] = []
    if records:
        arrays = [
            pa.array(_joined([e.inputs[f.name] for e in records]), f.type) for f in arrow_schema()
        ]
        for name in HISTORY_FEATURES:
            values = [e.history[name] for e in records if e.history is not None]
            assert len(values) == len(records), "records come with their history features"
            arrays.append(pa.array(np.concatenate(values), pa.float64()))
        parts.append(pa.Table.from_arrays(arrays + _answers(records), schema=schema))
    if shadows:  # the key and the shadow's answers: production's row has the rest
        n = sum(e.rows for e in shadows)
        arrays = [
            pa.array(_joined([e.inputs[f.name] for e in shadows]), f.type)
            if f.name in LOGGED_KEY
            else pa.nulls(n, f.type)
            for f in arrow_schema()
        ]
        arrays += [pa.nulls(n, pa.float64()) for _ in HISTORY_FEATURES]
        parts.append(pa.Table.from_arrays(arrays + _answers(shadows), schema=schema))
    for entry in tables:
        assert isinstance(entry.inputs, pa.Table)
        inputs = entry.inputs.select(list(_NAMES)).cast(arrow_schema())
        arrays = [*inputs.columns, *(entry.inputs[name] for name in HISTORY_FEATURES)]
        parts.append(pa.Table.from_arrays(arrays + _answers([entry]), schema=schema))
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts)


def _joined(columns: list[Sequence[Any]]) -> Sequence[Any]:
    return columns[0] if len(columns) == 1 else list(itertools.chain.from_iterable(columns))


def _answers(entries: Sequence[Entry]) -> list[pa.Array]:
    """The answers' columns; an entry's model, time, source and role repeated by ``take``."""
    at = pa.array(np.repeat(np.arange(len(entries)), [e.rows for e in entries]))
    scores = {
        "fraud_probability": np.concatenate([e.proba for e in entries]),
        "is_fraud": np.concatenate([e.flags for e in entries]),
    }
    return [
        pa.array(scores[name], type_)
        if name in scores
        else pa.array([getattr(e, name) for e in entries], type_).take(at)
        for name, type_ in _ANSWERS.items()
    ]
