"""One monitoring check: the production model against what it has scored, as of a day.

* **Drift**: the predictions of the last ``monitor_window_days`` (by event day) against the
  reference sample logged with the model: PSI of every feature and of the score.
* **Decay**: the predictions of the ``decay_window_days`` before the maturity window, whose
  labels are known by now, against the model's holdout figures: average precision and
  recall at the alert budget.

Each check is a run in the MLflow experiment ``fraud-monitoring`` (metrics, the verdict, an
HTML report) and a row of ``fraud.model_health``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

from fraudops import lake, registry, tracking
from fraudops.cardhistory import HISTORY_FEATURES
from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.evaluation import at_budget, evaluate
from fraudops.features import DISCRETE_FEATURES, FEATURE_NAMES, features_from_table
from fraudops.monitoring.drift import psi, psi_table
from fraudops.monitoring.reference import reference_of
from fraudops.monitoring.retrain import RetrainDecision
from fraudops.monitoring.rule import Health, Limits, Observed, assess
from fraudops.schema import SHADOW_ROLE, TRANSACTION_COLUMNS

EXPERIMENT = "fraud-monitoring"
_COLUMNS = [
    *(c.name for c in TRANSACTION_COLUMNS),
    *HISTORY_FEATURES,
    "fraud_probability",
    "model_version",
    "role",
]


@dataclass(frozen=True)
class Measured:
    """What a check measured, and the two samples it compared (for the report)."""

    observed: Observed
    reference: dict[str, np.ndarray]
    current: dict[str, np.ndarray]


@dataclass(frozen=True)
class Check:
    """A monitoring check: what was looked at, what was seen, the verdict, where to read more."""

    as_of: dt.date
    model_name: str
    model_version: str
    observed: Observed
    health: Health
    run_id: str
    report: str  # where the HTML report is (an MLflow artifact URI)
    checked_at: dt.datetime
    retrain: RetrainDecision

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (``fraudops monitor --json``)."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))  # type: ignore[no-any-return]


def limits_of(settings: Settings) -> Limits:
    """The rule's limits from the settings."""
    return Limits(
        psi=settings.drift_psi,
        decay_margin=settings.decay_margin,
        min_rows=settings.monitor_min_rows,
        min_frauds=settings.monitor_min_frauds,
    )


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _read_events(table: pa.Table, start: dt.date, stop: dt.date) -> pa.Table:
    ts = table["event_ts"].type
    keep = pc.and_(
        pc.greater_equal(table["event_ts"], pa.scalar(_day_start(start), ts)),
        pc.less(table["event_ts"], pa.scalar(_day_start(stop), ts)),
    )
    return table.filter(keep)


def latest_day(settings: Settings) -> dt.date:
    """The last event day in ``fraud.predictions`` (a check's default ``as_of``)."""
    table = lake.predictions_table(lake.open_catalog(settings))
    if table.current_snapshot() is None:
        raise FraudOpsError("fraud.predictions is empty: nothing has been scored yet.")
    ts = table.scan(selected_fields=("event_ts",)).to_arrow()["event_ts"]
    return pc.max(pc.cast(ts, pa.date32())).as_py()  # type: ignore[no-any-return]


def observe(settings: Settings, *, version: str, run_id: str, as_of: dt.date) -> Measured:
    """Measure drift and decay as of the end of ``as_of``."""
    maturity = settings.label_maturity_days
    window_from = as_of - dt.timedelta(days=settings.monitor_window_days - 1)
    decay_to = as_of - dt.timedelta(days=maturity)  # the last mature day
    decay_from = decay_to - dt.timedelta(days=settings.decay_window_days - 1)
    catalog = lake.open_catalog(settings)
    end = as_of + dt.timedelta(days=1)
    span = And(
        GreaterThanOrEqual("event_ts", _day_start(min(decay_from, window_from)).isoformat()),  # type: ignore[call-arg]
        LessThan("event_ts", _day_start(end).isoformat()),  # type: ignore[call-arg]
    )
    scored = lake.predictions_table(catalog).scan(row_filter=span, selected_fields=tuple(_COLUMNS))
    rows = lake.plain_strings(scored.to_arrow())
    rows = answered(rows)
    rows = rows.filter(pc.equal(rows["model_version"], version))
    window = _read_events(rows, window_from, end)
    reference = reference_of(run_id)
    matrix = features_from_table(window) if window.num_rows else np.zeros((0, len(FEATURE_NAMES)))
    current = {name: matrix[:, j] for j, name in enumerate(FEATURE_NAMES)}
    current["fraud_probability"] = np.asarray(window["fraud_probability"].to_numpy())
    feature_psi = {  # a feature with no value to compare (NaN) is not judged
        name: value
        for name, value in psi_table(
            {name: reference[name] for name in FEATURE_NAMES if name in reference},
            current,
            categorical=DISCRETE_FEATURES,
        ).items()
        if not np.isnan(value)
    }
    score_psi = psi(reference["fraud_probability"], current["fraud_probability"])
    labels = lake.plain_strings(
        lake.read_labels(lake.labels_table(catalog), before=_day_start(end))
    )
    matured = labelled(_read_events(rows, decay_from, decay_to + dt.timedelta(days=1)), labels)
    recent = _read_events(rows, decay_from, end)
    known = _known_share(recent, labels, mature_before=_day_start(decay_to + dt.timedelta(days=1)))
    y = np.asarray(matured["label"].to_numpy(), dtype=np.int32)
    proba = np.asarray(matured["fraud_probability"].to_numpy(), dtype=np.float64)
    frauds = int(y.sum())
    run = tracking.connect(settings).get_run(run_id)
    holdout = run.data.metrics
    matured_ap = matured_recall = None
    if frauds:
        matured_ap = evaluate(y, proba, 0.5)["average_precision"]
        days = pc.cast(matured["event_ts"], pa.date32()).cast(pa.int32()).to_numpy()
        matured_recall = at_budget(y, proba, days, settings.alert_budget)[1]
    observed = Observed(
        window_from=window_from,
        window_to=as_of,
        rows=window.num_rows,
        feature_psi=feature_psi,
        score_psi=score_psi if window.num_rows else 0.0,
        matured_rows=matured.num_rows,
        matured_frauds=frauds,
        matured_ap=matured_ap,
        matured_recall_at_budget=matured_recall,
        holdout_ap=holdout.get("holdout_average_precision"),
        holdout_recall_at_budget=holdout.get("holdout_recall_at_budget"),
        label_coverage=known,
    )
    return Measured(observed, reference, current)


def _latest_labels(labels: pa.Table) -> pa.Table:
    return (
        labels.sort_by([("reported_at", "ascending")])
        .group_by("transaction_id", use_threads=False)
        .aggregate([("label", "last")])
        .rename_columns(["transaction_id", "label"])
    )


def answered(rows: pa.Table) -> pa.Table:
    """The predictions production answered with (a shadow model's rows left out)."""
    return rows.filter(pc.fill_null(pc.not_equal(rows["role"], SHADOW_ROLE), True))


def labelled(rows: pa.Table, labels: pa.Table) -> pa.Table:
    """Mature predictions with their label (no event: legitimate)."""
    joined = rows.join(_latest_labels(labels), "transaction_id", join_type="left outer")
    return joined.set_column(
        joined.schema.get_field_index("label"),
        "label",
        pc.fill_null(joined["label"], 0).cast(pa.int32()),
    )


def _known_share(rows: pa.Table, labels: pa.Table, *, mature_before: dt.datetime) -> float | None:
    """The share of predictions whose label is known: mature, or reported already."""
    if rows.num_rows == 0:
        return None
    reported = pc.is_in(rows["transaction_id"], value_set=labels["transaction_id"])
    mature = pc.less(rows["event_ts"], pa.scalar(mature_before, rows["event_ts"].type))
    return float(pc.mean(pc.or_(reported, mature).cast(pa.int8())).as_py())


def production(settings: Settings) -> registry.ProductionModel:
    """The model a check is about (the one ``@production`` points at)."""
    current = registry.production_model(tracking.connect(settings), settings)
    if current is None or current.run_id is None:
        raise FraudOpsError(
            f"no {settings.model_name}@{settings.model_alias} yet: nothing to monitor"
        )
    return current


def observe_production(
    settings: Settings, as_of: dt.date | None = None
) -> tuple[registry.ProductionModel, dt.date, Measured, Health]:
    """The production model, the day checked, what was measured and the verdict."""
    model = production(settings)
    assert model.run_id is not None
    day = as_of or latest_day(settings)
    measured = observe(settings, version=model.version, run_id=model.run_id, as_of=day)
    return model, day, measured, assess(measured.observed, limits_of(settings))
