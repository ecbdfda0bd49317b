"""Manual promotion in Airflow: the gate's winner waits for a person, who is recorded.

``fraud_train_and_promote`` runs with ``dag.test()``; its human-in-the-loop step is answered
from another thread once it waits, as the Required Actions page would answer it.
"""

from __future__ import annotations

from typing import Any

import pytest

from fraudops import history, registry, tracking
from fraudops.config import Settings
from tests.support.airflow_env import RunDags, dag_settings

pytestmark = pytest.mark.slow

SUCCESS = "success"


@pytest.fixture(scope="module")
def approved(
    run_dags: RunDags, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, list[dict[str, Any]]]:
    """Bootstrap (automatic promotion), then two training runs with manual promotion on: the
    first approved by alice, the second rejected by bob."""
    home = tmp_path_factory.mktemp("approval") / "home"
    # promotion floor 0: the retrained model passes the gate whatever its holdout AP
    auto = dag_settings(home).model_copy(update={"promotion_floor": 0.0})
    run_dags(auto, [{"dag_id": "fraud_bootstrap", "logical_date": "2026-01-11"}])
    manual = auto.model_copy(update={"manual_promotion": True})
    runs = run_dags(
        manual,
        [
            {
                "dag_id": "fraud_train_and_promote",
                "logical_date": "2026-01-12",
                "respond": {"task_id": "approve", "option": "Approve", "user": "alice"},
            },
            {
                "dag_id": "fraud_train_and_promote",
                "logical_date": "2026-01-13",
                "respond": {"task_id": "approve", "option": "Reject", "user": "bob"},
            },
        ],
    )
    return manual, runs


def test_the_winner_waits_for_approval_then_production_moves(
    approved: tuple[Settings, list[dict[str, Any]]],
) -> None:
    settings, (run, _) = approved
    assert run["state"] == SUCCESS, run["tasks"]
    decision = run["xcom"]["promote"]
    assert decision["promote"] is True and decision["awaiting_approval"] is True
    seen = run["seen"]
    # while the step waited: production still the bootstrap's version, the candidate waiting
    assert seen["production"] == "1" and seen["challenger"] == "2", seen
    assert seen["waiting_states"]["record_approval"] in ("None", "none", "scheduled"), seen
    assert run["tasks"]["approve"] == SUCCESS and run["tasks"]["record_approval"] == SUCCESS
    assert run["tasks"]["record_rejection"] == "skipped"

    client = tracking.connect(settings)
    kinds = [(e.kind, e.version, e.by) for e in history.events(client, settings)]
    assert kinds[1:3] == [
        (history.Kind.AWAITING, "2", "airflow:fraud_train_and_promote"),
        (history.Kind.APPROVED, "2", "alice (Airflow)"),
    ]


def test_a_rejected_winner_never_reaches_production(
    approved: tuple[Settings, list[dict[str, Any]]],
) -> None:
    settings, (_, run) = approved
    assert run["state"] == SUCCESS, run["tasks"]
    assert run["xcom"]["promote"]["awaiting_approval"] is True
    assert run["seen"]["production"] == "2" and run["seen"]["challenger"] == "3", run["seen"]
    assert run["tasks"]["record_approval"] == "skipped"
    assert run["tasks"]["record_rejection"] == SUCCESS

    client = tracking.connect(settings)
    production = registry.alias_version(client, settings.model_name, settings.model_alias)
    assert production is not None and str(production.version) == "2"  # alice's approval
    assert registry.alias_version(client, settings.model_name, registry.CHALLENGER) is None
    kinds = [(e.kind, e.version, e.by) for e in history.events(client, settings)]
    assert kinds[-2:] == [
        (history.Kind.AWAITING, "3", "airflow:fraud_train_and_promote"),
        (history.Kind.REJECTED, "3", "bob (Airflow)"),
    ]
