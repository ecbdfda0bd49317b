"""Each DAG run end to end with ``dag.test()`` on small data, checked by its effects.

A new installation's life runs in one Airflow process (each process pays Airflow's start-up):
``fraud_bootstrap``, then ``fraud_train_and_promote``, then ``fraud_batch_score`` on a CSV
dropped in the inbox. Each test checks one DAG's run and what it left behind.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from fraudops import gate, inbox, lake, registry, tracking
from fraudops.cardhistory import VERSION
from fraudops.cardhistory.stores import open_store
from fraudops.config import Settings
from fraudops.demo import sample_csv
from tests.support.airflow_env import ROWS_PER_DAY, RunDags, dag_settings

pytestmark = pytest.mark.slow

SUCCESS = "success"
TRANSACTIONS_URI = "iceberg://fraudops/fraud/transactions"


def lake_days(settings: Settings) -> dict[dt.date, int]:
    """Rows per day in ``fraud.transactions``."""
    table = lake.transactions_table(lake.open_catalog(settings))
    counts: dict[dt.date, int] = {}
    for ts in lake.read_transactions(table, columns=("event_ts",))["event_ts"].to_pylist():
        counts[ts.date()] = counts.get(ts.date(), 0) + 1
    return counts


def gate_should_promote(settings: Settings, candidate: str, champion: str) -> bool:
    """The gate's decision worked out here, from both versions' scores on the fresh holdout."""
    holdout, _ = registry.holdout_from_lake(settings)
    promote, _ = gate.should_promote(
        registry.score_version(settings, candidate, holdout),
        registry.score_version(settings, champion, holdout),
        margin=settings.promotion_margin,
        floor=settings.promotion_floor,
    )
    return promote


def version_tags(settings: Settings, version: str) -> dict[str, str]:
    client = tracking.connect(settings)
    return dict(client.get_model_version(settings.model_name, version).tags)


@pytest.fixture(scope="module")
def lifecycle(
    run_dags: RunDags, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, dict[str, dict[str, Any]]]:
    """A new home after bootstrap, a training run and a nightly scoring run."""
    settings = dag_settings(tmp_path_factory.mktemp("lifecycle") / "home")
    inbox.drop_file(settings, "cards.csv", sample_csv(rows=300))
    runs = run_dags(
        settings,
        [
            {"dag_id": "fraud_bootstrap", "logical_date": "2026-01-11"},
            {"dag_id": "fraud_train_and_promote", "logical_date": "2026-01-12"},
            {"dag_id": "fraud_batch_score", "logical_date": "2026-01-12"},
        ],
    )
    return settings, {run["dag_id"]: run for run in runs}


def test_bootstrap_fills_the_history_and_promotes_a_first_model(
    lifecycle: tuple[Settings, dict[str, dict[str, Any]]],
) -> None:
    settings, runs = lifecycle
    run = runs["fraud_bootstrap"]
    assert run["state"] == SUCCESS, run["tasks"]
    # FRAUDOPS_DAYS (10) days, ending the day before the run's date
    expected = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(settings.days)]
    assert lake_days(settings) == dict.fromkeys(expected, ROWS_PER_DAY)
    decision = run["xcom"]["promote"]
    assert decision["promote"] is True, decision
    assert decision["candidate_version"] == run["xcom"]["train"] == "1"
    tags = version_tags(settings, "1")
    assert tags["fraudops.gate.decision"] == "promoted"
    history = run["xcom"]["generate_history"]
    assert tags["fraudops.snapshot_id"] == history["snapshot_id"]
    assert tags["fraudops.labels_snapshot_id"] == history["labels_snapshot_id"]
    assert history["label_events"] > 0
    assert tags["fraudops.trigger"] == "fraud_bootstrap"


def test_train_and_promote_registers_a_gated_version(
    lifecycle: tuple[Settings, dict[str, dict[str, Any]]],
) -> None:
    settings, runs = lifecycle
    run = runs["fraud_train_and_promote"]
    assert run["state"] == SUCCESS, run["tasks"]
    # pinned to the lake's snapshot at the time: the one bootstrap wrote
    snapshot_id = runs["fraud_bootstrap"]["xcom"]["generate_history"]["snapshot_id"]
    pinned = run["xcom"]["pin_snapshot"]
    assert pinned["snapshot_id"] == snapshot_id
    assert pinned["trigger"] == "manual"
    version, decision = run["xcom"]["train"], run["xcom"]["promote"]
    assert version == decision["candidate_version"] == "2"
    expected = gate_should_promote(settings, candidate="2", champion="1")
    assert decision["promote"] is expected
    tags = version_tags(settings, version)
    assert tags["fraudops.snapshot_id"] == snapshot_id
    assert tags["fraudops.gate.decision"] == ("promoted" if expected else "rejected")
    assert tags["fraudops.gate.reason"] == decision["reason"]
    client = tracking.connect(settings)
    production = registry.alias_version(client, settings.model_name, settings.model_alias)
    assert production is not None
    assert str(production.version) == ("2" if expected else "1")


def test_batch_score_scores_the_inbox(
    lifecycle: tuple[Settings, dict[str, dict[str, Any]]],
) -> None:
    settings, runs = lifecycle
    run = runs["fraud_batch_score"]
    assert run["state"] == SUCCESS, run["tasks"]
    summary = run["xcom"]["score_inbox"]
    assert summary["files"] == 1 and summary["rows_scored"] > 0, summary
    assert summary["rows_scored"] + summary["rows_rejected"] == 300

    root = Path(settings.inbox_url)
    assert list((root / "incoming").iterdir()) == []
    with open(root / "outbox" / "cards.scored.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == summary["rows_scored"]
    # the nightly run scored with the version the gate's own rule put in production
    expected_version = "2" if gate_should_promote(settings, candidate="2", champion="1") else "1"
    assert {r["model_version"] for r in rows} == {expected_version}


def test_generate_overwrites_its_day_and_training_waits_for_history(
    run_dags: RunDags, tmp_path: Path
) -> None:
    settings = dag_settings(tmp_path / "home")
    generate = {"dag_id": "fraud_generate_transactions", "logical_date": "2026-02-01"}
    train = {"dag_id": "fraud_train_and_promote", "logical_date": "2026-02-01"}
    first, rerun, training = run_dags(settings, [generate, generate, train])

    # a manual run's data interval is the last complete day before its date
    for run in (first, rerun):
        assert run["state"] == SUCCESS, run["tasks"]
        assert run["xcom"]["generate_day"]["day"] == "2026-01-31"
        assert run["tasks"]["score_day"] == "skipped"  # no production model to score with
    assert lake_days(settings) == {dt.date(2026, 1, 31): ROWS_PER_DAY}  # the rerun replaced it
    table = lake.transactions_table(lake.open_catalog(settings))
    assert str(lake.table_status(table).snapshot_id) == rerun["xcom"]["generate_day"]["snapshot_id"]
    [event] = rerun["asset_events"]
    assert event["asset"] == TRANSACTIONS_URI
    assert event["extra"] == rerun["xcom"]["generate_day"]

    # one day of history is too little to train on: skipped, not failed
    assert training["state"] == SUCCESS
    assert set(training["tasks"].values()) == {"skipped"}


def test_monitoring_raises_the_alarm_only_for_an_unhealthy_model(
    run_dags: RunDags, tmp_path: Path
) -> None:
    settings = dag_settings(tmp_path / "home")
    [boot] = run_dags(settings, [{"dag_id": "fraud_bootstrap", "logical_date": "2026-01-11"}])
    assert boot["state"] == SUCCESS, boot["tasks"]
    shifted = settings.model_copy(update={"drift_from": dt.date(2026, 1, 12)})
    days = run_dags(  # Jan 11 as before, Jan 12 drifted; each scored by production
        shifted,
        [
            {"dag_id": "fraud_generate_transactions", "logical_date": "2026-01-12"},
            {"dag_id": "fraud_generate_transactions", "logical_date": "2026-01-13"},
        ],
    )
    for run, day in zip(days, ("2026-01-11", "2026-01-12"), strict=True):
        assert run["state"] == SUCCESS, run["tasks"]
        assert run["xcom"]["score_day"] == {
            "day": day,
            "rows": ROWS_PER_DAY,
            "model_version": "1",
            "snapshot_id": run["xcom"]["score_day"]["snapshot_id"],
        }
        # the API's card-history store learns the day (bootstrap backfilled the history)
        assert run["xcom"]["remember_day"] == {"day": day, "added": ROWS_PER_DAY}
    assert boot["xcom"]["fill_card_history"]["version"] == VERSION
    store = open_store(settings)
    assert store.version() == VERSION
    assert store.stats()["events"] >= boot["xcom"]["fill_card_history"]["loaded"] + 2 * ROWS_PER_DAY
    store.close()

    healthy, unhealthy = run_dags(
        settings,
        [
            {"dag_id": "fraud_monitor", "logical_date": "2026-01-12"},  # checks Jan 11
            {"dag_id": "fraud_monitor", "logical_date": "2026-01-13"},  # checks Jan 12
        ],
    )

    assert healthy["state"] == unhealthy["state"] == SUCCESS
    assert healthy["xcom"]["check"]["status"] == "healthy", repr(healthy["xcom"]["check"])
    assert healthy["tasks"]["alarm"] == "skipped"
    assert healthy["asset_events"] == []
    check = unhealthy["xcom"]["check"]
    assert check["status"] == "drifting" and "channel" in check["drifting_features"], check
    [event] = unhealthy["asset_events"]
    assert event["asset"] == "iceberg://fraudops/fraud/model_health"
    assert event["extra"]["status"] == "drifting"
    health = lake.model_health_table(lake.open_catalog(settings)).scan().to_arrow()
    assert sorted(health["status"].to_pylist()) == ["drifting", "healthy"]
