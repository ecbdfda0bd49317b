"""Shadow challengers in the registry: start and stop, the report, the shadow period.

One scenario on a copy of the session's registry (v1 @production): a candidate the gate
passes waits for approval; approval is refused until it has been in shadow long enough and
its shadow report, on the same live transactions with matured labels, is not worse.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from fraudops import datagen, history, lake, registry, release, shadow, shadowreport, tracking
from fraudops.cardhistory import HISTORY_FEATURES
from fraudops.cli import app
from fraudops.config import Settings, get_settings
from fraudops.errors import FraudOpsError
from fraudops.schema import LABEL_EVENT_COLUMNS, LOGGED_KEY
from tests.support.api import copy_registry
from tests.support.settings import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY = dt.date(2026, 2, 1)  # matured by the last day logged, DAY + 3 (label_maturity_days 3)
LIMITS = {"shadow_days": 1, "monitor_min_rows": 200, "monitor_min_frauds": 5}


def _logged_rows(day: dt.date, n: int, seed: int, prefix: str = "") -> pa.Table:
    tx = datagen.generate_day(day, rows=n, seed=seed, fraud_rate=0.1)
    ids = pa.array([prefix + i for i in tx["transaction_id"].to_pylist()])
    return tx.set_column(0, "transaction_id", ids)


def _log(s: Settings, tx: pa.Table, scores: np.ndarray, *, version: str, role: str) -> None:
    """Rows of fraud.predictions as the API logs them (one role, one version)."""
    n = tx.num_rows
    at = dt.datetime.now(dt.UTC)
    rows = tx.drop_columns(["is_fraud"])
    if role == "shadow":  # the key and the answers: production's row holds the inputs
        for i, field in enumerate(rows.schema):
            if field.name not in LOGGED_KEY:
                rows = rows.set_column(i, field.name, pa.nulls(n, field.type))
    for name in HISTORY_FEATURES:
        rows = rows.append_column(name, pa.nulls(n, pa.float64()))
    columns = {
        "fraud_probability": pa.array(scores, pa.float64()),
        "is_fraud": pa.array(scores >= 0.5),
        "model_name": pa.repeat(pa.scalar(s.model_name), n),
        "model_version": pa.repeat(pa.scalar(version), n),
        "predicted_at": pa.repeat(pa.scalar(at, pa.timestamp("us", tz="UTC")), n),
        "source": pa.repeat(pa.scalar("api"), n),
        "role": pa.repeat(pa.scalar(role), n),
    }
    for name, values in columns.items():
        rows = rows.append_column(name, values)
    lake.append(lake.predictions_table(lake.open_catalog(s)), rows)


def _label(s: Settings, tx: pa.Table) -> None:
    frauds = tx.filter(pc.cast(tx["is_fraud"], pa.bool_()))
    n = frauds.num_rows
    reported = pa.scalar(dt.datetime(2026, 2, 2, tzinfo=dt.UTC), pa.timestamp("us", tz="UTC"))
    events = pa.table(
        {
            "transaction_id": frauds["transaction_id"],
            "event_ts": frauds["event_ts"],
            "label": pa.repeat(pa.scalar(1, pa.int32()), n),
            "reported_at": pa.repeat(reported, n),
            "source": pa.repeat(pa.scalar("chargeback"), n),
        }
    )
    assert events.column_names == [c.name for c in LABEL_EVENT_COLUMNS]
    lake.append(lake.labels_table(lake.open_catalog(s)), events)


def _back_date_shadow_start(s: Settings, version: str, days: float) -> None:
    """As if the shadow had started ``days`` ago: its event, moved back in time."""
    client = tracking.connect(s)
    tags = client.get_model_version(s.model_name, version).tags
    for key, value in tags.items():
        event = history.Event.from_json(value) if key.startswith(history.HISTORY) else None
        if event is not None and event.kind is history.Kind.SHADOW_STARTED:
            began = dt.datetime.fromisoformat(event.at) - dt.timedelta(days=days)
            moved = history.Event(**{**event.__dict__, "at": began.isoformat()})
            client.set_model_version_tag(s.model_name, version, key, moved.as_json())


def _env(s: Settings) -> dict[str, str]:
    get_settings.cache_clear()
    return {
        "FRAUDOPS_HOME": str(s.home_dir),
        "FRAUDOPS_TRACKING_URI": s.tracking_url,
        "FRAUDOPS_LABEL_MATURITY_DAYS": str(s.label_maturity_days),
        "FRAUDOPS_ALERT_BUDGET": str(s.alert_budget),
        **{f"FRAUDOPS_{k.upper()}": str(v) for k, v in LIMITS.items()},
    }


def test_shadow_period_then_report_then_promotion(
    trained_settings: Settings, tmp_path: Path
) -> None:
    copy = copy_registry(trained_settings, tmp_path / "home")
    s = make_settings(copy.home, **LIMITS)
    client = tracking.connect(s)
    v1 = client.get_model_version_by_alias(s.model_name, s.model_alias)
    v4 = registry.register(client, s, model_uri=v1.source, run_id=v1.run_id)
    holdout, _ = registry.holdout_from_lake(trained_settings)

    decision = registry.gate(client, s, version=v4, holdout=holdout, by="ci")
    assert decision.promote and decision.awaiting_approval  # a shadow period first
    with pytest.raises(FraudOpsError, match="did not pass the offline gate"):
        shadow.start(s, "2")  # registered, never gated
    with pytest.raises(FraudOpsError, match="0.00 of the 1 days"):
        release.approve(s, v4, by="alice")

    started = shadow.start(s, v4, by="analyst")
    assert started.kind is history.Kind.SHADOW_STARTED and started.previous == "1"
    assert str(registry.alias_version(client, s.model_name, shadow.SHADOW).version) == v4
    shown = CliRunner().invoke(app, ["status", "--json"], env=_env(s))
    assert json.loads(shown.output)["shadow_version"] == v4
    with pytest.raises(FraudOpsError, match="in shadow 0.00 of the 1 days"):
        release.approve(s, v4, by="alice")
    none_yet = shadowreport.compare(s, v4)  # before any live traffic: said, not a crash
    assert none_yet.compared == 0 and "scored no live transaction" in none_yet.verdict

    # live traffic: both scored these; production alone answered a few more
    rng = np.random.default_rng(5)
    mature, recent = _logged_rows(DAY, 600, 1), _logged_rows(DAY + dt.timedelta(days=3), 100, 2)
    both = pa.concat_tables([mature, recent])
    labels = np.asarray(both["is_fraud"].to_numpy(zero_copy_only=False), dtype=bool)
    noisy = np.clip(rng.random(both.num_rows) * 0.6 + labels * 0.2, 0, 1)
    worse = np.where(labels, 0.1, 0.9)  # alerts on the legitimate, misses the frauds
    _log(s, both, noisy, version="1", role="production")
    _log(s, both, worse, version=v4, role="shadow")
    _log(s, _logged_rows(DAY, 7, 3, "p-"), rng.random(7), version="1", role="production")
    _log(s, _logged_rows(DAY, 3, 4, "s-"), rng.random(3), version=v4, role="shadow")

    early = shadowreport.compare(s, v4)
    assert (early.compared, early.shadow_unpaired, early.production_unpaired) == (700, 3, 7)
    assert early.production is None and "too few matured labels" in early.verdict
    _label(s, both)
    _back_date_shadow_start(s, v4, days=1.5)
    with pytest.raises(FraudOpsError, match="saved .* < production's"):
        release.approve(s, v4, by="alice")

    _log(s, both, np.where(labels, 0.9, 0.1), version=v4, role="shadow")  # logged later: read
    result = CliRunner().invoke(app, ["shadow", "report", "--json"], env=_env(s))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["compared"], report["matured"]) == (700, 600)
    assert report["matured_frauds"] == int(labels[:600].sum())
    assert report["shadow"]["average_precision"] == 1.0
    assert report["shadow"]["recall_at_budget"] >= report["production"]["recall_at_budget"]
    assert report["shadow"]["cost_saved_per_day"] > report["production"]["cost_saved_per_day"]
    shadow_flags, production_flags = labels, noisy >= 0.5
    assert report["agreement"] == pytest.approx(np.mean(shadow_flags == production_flags))

    approved = release.approve(s, v4, by="alice")
    assert approved.kind is history.Kind.APPROVED
    assert registry.alias_version(client, s.model_name, shadow.SHADOW) is None  # promoted
    found = [(e.kind, e.version) for e in history.events(client, s)]
    refused = [e for e in history.events(client, s) if e.kind is history.Kind.REFUSED]
    assert [r.by for r in refused] == ["alice", "alice", "alice"]
    assert "in shadow" in refused[-1].reason and "saved" in refused[-1].reason
    assert found[-3:] == [
        (history.Kind.REFUSED, v4),
        (history.Kind.SHADOW_STOPPED, v4),
        (history.Kind.APPROVED, v4),
    ]
    shown = CliRunner().invoke(app, ["status", "--json"], env=_env(s))
    assert json.loads(shown.output)["shadow_version"] is None  # approved: out of shadow
    listed = CliRunner().invoke(app, ["history", "--json"], env=_env(s))
    kinds = [e["kind"] for e in json.loads(listed.output)]
    assert "shadow-started" in kinds and "shadow-stopped" in kinds
