"""``fraudops shadow report``: the shadow model against production on the same live traffic.

Rows of ``fraud.predictions`` the API logged for the shadow version are paired with
production's rows of the same ``transaction_id`` (the answer the client got): only
transactions both scored are compared, and the ones without a pair are counted. Decisions
are compared on every pair; AP, precision and recall at the alert budget and the cost saved
a day on the pairs whose labels have matured, as monitoring reads them (the last event day
logged, less ``label_maturity_days``; no label event: legitimate).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import EqualTo

from fraudops import lake
from fraudops.config import Settings
from fraudops.evaluation import evaluate
from fraudops.monitoring.check import labelled
from fraudops.schema import SHADOW_ROLE
from fraudops.trainset import amounts, day_codes

_READ = (
    "transaction_id",
    "event_ts",
    "transaction_amount",
    "fraud_probability",
    "is_fraud",
    "model_version",
    "predicted_at",
    "role",
)


@dataclass(frozen=True)
class Side:
    """One model on the matured pairs."""

    model_versions: str  # production may have changed during the shadow: all it answered with
    average_precision: float
    precision_at_budget: float
    recall_at_budget: float
    cost_saved_per_day: float
    alerts_per_day: float  # at the model's own threshold


@dataclass(frozen=True)
class ShadowReport:
    """The comparison, and whether there were enough matured labels to make it."""

    shadow_version: str
    compared: int  # transactions scored by both
    shadow_unpaired: int  # scored in shadow, no production row
    production_unpaired: int  # answered while the shadow ran, no shadow row
    agreement: float | None  # share of compared transactions with the same decision
    shadow_only_alerts: int
    production_only_alerts: int
    as_of: str | None
    matured: int
    matured_frauds: int
    production: Side | None  # None: too few matured labels to compare
    shadow: Side | None
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json``)."""
        return dataclasses.asdict(self)


def _latest(rows: pa.Table) -> pa.Table:
    """One row per transaction: the one logged last (a client may send one twice)."""
    if rows.num_rows == 0:
        return rows
    rows = rows.sort_by([("predicted_at", "descending")])
    ids = np.asarray(rows["transaction_id"].to_numpy(zero_copy_only=False), dtype=object)
    _, first = np.unique(ids, return_index=True)
    return rows.take(pa.array(np.sort(first)))


def _side(pairs: pa.Table, prefix: str, settings: Settings) -> Side:
    y = np.asarray(pairs["label"].to_numpy(), dtype=np.int32)
    proba = np.asarray(pairs[f"{prefix}fraud_probability"].to_numpy(), dtype=np.float64)
    flags = np.asarray(pairs[f"{prefix}is_fraud"].to_numpy(zero_copy_only=False), dtype=bool)
    days = day_codes(pairs)
    ranked = evaluate(y, proba, 0.5, days=days, budget=settings.alert_budget)
    # each model's own decisions (its threshold) as the scores: the cost of what it alerted
    decided = evaluate(
        y,
        flags.astype(np.float64),
        0.5,
        days=days,
        amount=amounts(pairs),
        false_alarm_cost=settings.false_alarm_cost,
    )
    versions = sorted(set(pairs[f"{prefix}model_version"].to_pylist()))
    return Side(
        model_versions=",".join(versions),
        average_precision=ranked["average_precision"],
        precision_at_budget=ranked["precision_at_budget"],
        recall_at_budget=ranked["recall_at_budget"],
        cost_saved_per_day=decided["cost_saved_per_day"],
        alerts_per_day=decided["alerts_per_day_at_threshold"],
    )


def _pairs(settings: Settings, version: str) -> tuple[pa.Table, int, int]:
    """Shadow rows joined with production's (``production_`` columns); the two unpaired counts."""
    table = lake.predictions_table(lake.open_catalog(settings))
    scan = table.scan(row_filter=EqualTo("source", "api"), selected_fields=_READ)  # type: ignore[call-arg]
    rows = lake.plain_strings(scan.to_arrow())
    in_shadow = pc.fill_null(pc.equal(rows["role"], SHADOW_ROLE), False)
    shadow = _latest(rows.filter(pc.and_(in_shadow, pc.equal(rows["model_version"], version))))
    production = _latest(rows.filter(pc.invert(in_shadow))).drop_columns(["role"])
    renamed = production.rename_columns(
        [c if c == "transaction_id" else f"production_{c}" for c in production.column_names]
    )
    pairs = shadow.join(renamed, "transaction_id", join_type="inner")
    if shadow.num_rows == 0:  # nothing scored in shadow yet: no pair, the columns all the same
        return pairs, 0, 0
    ran = pc.and_(  # production's answers while the shadow was scoring
        pc.greater_equal(production["predicted_at"], pc.min(shadow["predicted_at"])),
        pc.less_equal(production["predicted_at"], pc.max(shadow["predicted_at"])),
    )
    paired = pc.is_in(production["transaction_id"], value_set=pairs["transaction_id"])
    lone = int(pc.sum(pc.and_(ran, pc.invert(paired))).as_py() or 0)
    return pairs, shadow.num_rows - pairs.num_rows, lone


def compare(settings: Settings, version: str) -> ShadowReport:
    """The shadow version against production on the transactions both scored."""
    pairs, shadow_unpaired, production_unpaired = _pairs(settings, str(version))
    n = pairs.num_rows
    ours = np.asarray(pairs["is_fraud"].to_numpy(zero_copy_only=False), dtype=bool)
    theirs = np.asarray(pairs["production_is_fraud"].to_numpy(zero_copy_only=False), dtype=bool)
    base = {
        "shadow_version": str(version),
        "compared": n,
        "shadow_unpaired": shadow_unpaired,
        "production_unpaired": production_unpaired,
        "agreement": float(np.mean(ours == theirs)) if n else None,
        "shadow_only_alerts": int(np.sum(ours & ~theirs)),
        "production_only_alerts": int(np.sum(theirs & ~ours)),
    }
    if n == 0:
        return ShadowReport(
            **base,
            as_of=None,
            matured=0,
            matured_frauds=0,
            production=None,
            shadow=None,
            verdict=f"version {version} has scored no live transaction production answered yet",
        )
    as_of = pc.max(pc.cast(pairs["event_ts"], pa.date32())).as_py()
    last_mature = as_of - dt.timedelta(days=settings.label_maturity_days)
    cut = dt.datetime.combine(last_mature + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    mature = pairs.filter(pc.less(pairs["event_ts"], pa.scalar(cut, pairs["event_ts"].type)))
    labels = lake.plain_strings(
        lake.read_labels(lake.labels_table(lake.open_catalog(settings)), before=end)
    )
    mature = labelled(mature, labels)
    frauds = int(pc.sum(mature["label"]).as_py() or 0)
    base.update(as_of=as_of.isoformat(), matured=mature.num_rows, matured_frauds=frauds)
    if mature.num_rows < settings.monitor_min_rows or frauds < settings.monitor_min_frauds:
        return ShadowReport(
            **base,
            production=None,
            shadow=None,
            verdict=(
                f"too few matured labels to compare: {mature.num_rows:,} matured transactions "
                f"({frauds} fraud) up to {last_mature}; needs {settings.monitor_min_rows:,} "
                f"and {settings.monitor_min_frauds} fraud"
            ),
        )
    ours_side, theirs_side = _side(mature, "", settings), _side(mature, "production_", settings)
    better = ours_side.cost_saved_per_day >= theirs_side.cost_saved_per_day
    verdict = (
        f"shadow saves {ours_side.cost_saved_per_day:,.2f} a day "
        f"{'>=' if better else '<'} production's {theirs_side.cost_saved_per_day:,.2f} "
        f"on {mature.num_rows:,} matured transactions"
    )
    return ShadowReport(**base, production=theirs_side, shadow=ours_side, verdict=verdict)
