"""Airflow in a child process, so its configuration never leaks into the pytest process.

The caller sets ``AIRFLOW_HOME``, the metadata database and ``FRAUDOPS_*`` in the environment,
then runs ``python airflow_runner.py describe`` (what the DagBag holds) or
``python airflow_runner.py run '<json list of runs>'`` (each run with ``dag.test()``). The
result is the last stdout line, prefixed with ``RESULT``.
"""

from __future__ import annotations

import gc
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

RESULT = "RESULT "
HEAVY = ("pandas", "mlflow", "xgboost", "pyiceberg", "sklearn", "pyspark", "fraudops")


def _dagbag() -> Any:
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=conf.get("core", "dags_folder"), safe_mode=False)


def _assets(value: Any) -> list[str]:
    """URIs of the assets in an asset expression (Asset, AssetAll/AssetAny, list)."""
    if hasattr(value, "uri"):
        return [value.uri]
    if hasattr(value, "objects"):
        return [uri for obj in value.objects for uri in _assets(obj)]
    if isinstance(value, list | tuple):
        return [uri for obj in value for uri in _assets(obj)]
    return []


def describe() -> dict[str, Any]:
    """The DAGs as the integrity tests see them, and the heavy modules parsing imported."""
    bag = _dagbag()
    dags = {}
    for dag_id, dag in bag.dags.items():
        timetable = dag.timetable
        dags[dag_id] = {
            "file": Path(dag.fileloc).name,
            "tasks": sorted(dag.task_ids),
            "tags": sorted(dag.tags),
            "retries": {t.task_id: t.retries for t in dag.tasks},
            "outlets": {t.task_id: _assets(list(t.outlets)) for t in dag.tasks},
            "max_active_runs": dag.max_active_runs,
            "catchup": dag.catchup,
            "doc_md": dag.doc_md or "",
            "is_paused_upon_creation": dag.is_paused_upon_creation,
            "timetable": type(timetable).__name__,
            "inner_timetable": type(getattr(timetable, "timetable", None)).__name__,
            "schedule_assets": _assets(getattr(timetable, "asset_condition", None)),
        }
    return {
        "import_errors": bag.import_errors,
        "dags": dags,
        "heavy_modules_loaded": sorted(m for m in HEAVY if m in sys.modules),
    }


def respond_when_asked(dag_id: str, answer: dict[str, str], seen: dict[str, Any]) -> None:
    """Answer a human-in-the-loop step once it waits, as the Required Actions page would.

    ``answer`` is ``{"task_id", "option", "user"}``. Before answering, ``seen`` records what
    the registry shows while the step waits (production and challenger versions).
    """
    from airflow.models.hitl import HITLDetail, HITLUser
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import TriggerEvent
    from airflow.utils import timezone
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    from fraudops import registry, tracking
    from fraudops.config import Settings

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with create_session() as session:
            ti = session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.task_id == answer["task_id"],
                    TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
                )
            ).first()
            detail = session.get(HITLDetail, ti.id) if ti is not None else None
            if ti is None or detail is None:
                session.rollback()
                time.sleep(0.5)
                continue
            settings = Settings()
            client = tracking.connect(settings)
            for alias in (settings.model_alias, registry.CHALLENGER):
                mv = registry.alias_version(client, settings.model_name, alias)
                seen[alias] = None if mv is None else str(mv.version)
            seen["waiting_states"] = {
                t.task_id: str(t.state)
                for t in session.scalars(
                    select(TaskInstance).where(TaskInstance.run_id == ti.run_id)
                )
            }
            detail.responded_by = HITLUser(id=answer["user"], name=answer["user"])
            detail.responded_at = timezone.utcnow()
            detail.chosen_options = [answer["option"]]
            detail.params_input = {}
            session.add(detail)
            event = TriggerEvent(detail.as_resume_event_payload())
            handle_event_submit(event, task_instance=ti, session=session)
            return
    seen["error"] = "the step never waited for an answer"


def run(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run DAGs one after the other with ``dag.test()``; report states, XComs, asset events.

    A spec with ``respond`` answers its human-in-the-loop step from another thread
    (:func:`respond_when_asked`); what it saw while the step waited is the result's ``seen``.
    """
    import pendulum
    from airflow.models.asset import AssetEvent
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bag = _dagbag()
    assert not bag.import_errors, bag.import_errors
    results = []
    for spec in specs:
        dag = bag.dags[spec["dag_id"]]
        logical_date = spec.get("logical_date")
        seen: dict[str, Any] = {}
        if spec.get("respond"):
            threading.Thread(
                target=respond_when_asked, args=(dag.dag_id, spec["respond"], seen), daemon=True
            ).start()
        dr = dag.test(
            logical_date=pendulum.parse(logical_date) if logical_date else None,
            run_conf=spec.get("conf") or None,
        )
        with create_session() as session:
            tis = {ti.task_id: str(ti.state) for ti in dr.get_task_instances(session=session)}
            # the stored JSON as is: deserialize_value would turn a numeric string into an int
            xcoms = {
                x.task_id: x.value
                for x in session.scalars(
                    XComModel.get_many(run_id=dr.run_id, dag_ids=dag.dag_id, key="return_value")
                )
            }
            events = [
                {"asset": e.asset.uri, "extra": e.extra}
                for e in session.scalars(
                    select(AssetEvent).where(
                        AssetEvent.source_dag_id == dag.dag_id,
                        AssetEvent.source_run_id == dr.run_id,
                    )
                )
            ]
        results.append(
            {
                "dag_id": dag.dag_id,
                "run_id": dr.run_id,
                "state": str(dr.state),
                "tasks": tis,
                "xcom": xcoms,
                "asset_events": events,
                "seen": seen,
            }
        )
    return results


def main() -> None:
    # as the fraudops CLI does: collect every 50,000 new objects while the DAGs' imports load,
    # and freeze what is left before exit instead of collecting it again. The values of
    # cli.common.COMMAND_COLLECTION, not imported: `describe` checks DAG parsing imports no fraudops
    gc.set_threshold(50_000, 20, 100)
    command = sys.argv[1]
    if command == "describe":
        result: Any = describe()
    elif command == "run":
        result = run(json.loads(sys.argv[2]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(RESULT + json.dumps(result, default=str), flush=True)
    gc.freeze()


if __name__ == "__main__":
    main()
