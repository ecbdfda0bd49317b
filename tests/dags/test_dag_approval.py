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
) -> tuple[Settings, dict[str, Any]]:
    """Bootstrap (automatic promotion), then a training run with manual promotion on."""
    home = tmp_path_factory.mktemp("approval") / "home"
    # promotion floor 0: the retrained model passes the gate whatever its holdout AP
    auto = dag_settings(home).model_copy(update={"promotion_floor": 0.0})
    run_dags(auto, [{"dag_id": "fraud_bootstrap", "logical_date": "2026-01-11"}])
    manual = auto.model_copy(update={"manual_promotion": True})
    (run,) = run_dags(
        manual,
        [
            {
                "dag_id": "fraud_train_and_promote",
                "logical_date": "2026-01-12",
                "respond": {"task_id": "approve", "option": "Approve", "user": "alice"},
            }
        ],
    )
    return manual, run


def test_the_winner_waits_for_approval_then_production_moves(
    approved: tuple[Settings, dict[str, Any]],
) -> None:
    settings, run = approved
    assert run["state"] == SUCCESS, run["tasks"]
    decision = run["xcom"]["promote"]
    assert decision["promote"] is True and decision["awaiting_approval"] is True
    seen = run["seen"]
    # while the step waited: production still the bootstrap's version, the candidate waiting
    assert seen["production"] == "1" and seen["challenger"] == "2", seen
    assert seen["waiting_states"]["record_approval"] in ("None", "none", "scheduled"), seen
    assert run["tasks"]["approve"] == SUCCESS and run["tasks"]["record_approval"] == SUCCESS

    client = tracking.connect(settings)
    production = registry.alias_version(client, settings.model_name, settings.model_alias)
    assert production is not None and str(production.version) == "2"
    assert registry.alias_version(client, settings.model_name, registry.CHALLENGER) is None
    kinds = [(e.kind, e.version, e.by) for e in history.events(client, settings)]
    assert kinds[-2:] == [
        (history.Kind.AWAITING, "2", "airflow:fraud_train_and_promote"),
        (history.Kind.APPROVED, "2", "alice (Airflow)"),
    ]
