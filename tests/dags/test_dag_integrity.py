"""DAG integrity: the DagBag loads cleanly and every DAG follows the house rules."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from fraudops import airflow_local
from tests.support.airflow_env import call_runner, dag_settings, env_for

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "airflow" / "dags"
DAG_FILES = sorted(DAGS_FOLDER.glob("*.py"))
EXPECTED_TASKS = {
    "fraud_generate_transactions": ["generate_day", "remember_day", "score_day"],
    "fraud_train_and_promote": [
        "approve",
        "awaits_approval",
        "pin_snapshot",
        "promote",
        "record_approval",
        "record_rejection",
        "train",
    ],
    "fraud_batch_score": ["score_inbox"],
    "fraud_bootstrap": ["fill_card_history", "generate_history", "promote", "train"],
    "fraud_monitor": ["alarm", "check", "compact_predictions", "unhealthy"],
}
# never imported while the DAG files are parsed: only inside task bodies
HEAVY = {"pandas", "numpy", "pyarrow", "mlflow", "xgboost", "pyiceberg", "sklearn", "pyspark"}
TRANSACTIONS_URI = "iceberg://fraudops/fraud/transactions"
MODEL_HEALTH_URI = "iceberg://fraudops/fraud/model_health"


@pytest.fixture(scope="module")
def dagbag(airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the DagBag holds, read by a child process (no metadata database needed)."""
    tmp = tmp_path_factory.mktemp("dagbag")
    env = env_for(dag_settings(tmp / "home"), airflow_home)
    return call_runner(env, "describe", log=tmp / "describe.log", timeout=120)


def test_dagbag_has_no_import_errors(dagbag: dict[str, Any]) -> None:
    assert dagbag["import_errors"] == {}


def test_expected_dags_and_tasks(dagbag: dict[str, Any]) -> None:
    found = {dag_id: info["tasks"] for dag_id, info in dagbag["dags"].items()}
    assert found == EXPECTED_TASKS


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_TASKS))
def test_dag_follows_the_house_rules(dagbag: dict[str, Any], dag_id: str) -> None:
    info = dagbag["dags"][dag_id]
    assert info["file"] == f"{dag_id}.py"
    assert "fraudops" in info["tags"] and len(info["tags"]) >= 2
    assert all(retries >= 1 for retries in info["retries"].values()), info["retries"]
    assert info["max_active_runs"] == 1
    assert info["catchup"] is False
    # doc_md=__doc__: what the UI shows is the file's docstring
    module_doc = ast.get_docstring(ast.parse((DAGS_FOLDER / f"{dag_id}.py").read_text()))
    assert info["doc_md"].strip() == (module_doc or "").strip() != ""


def test_monitoring_emits_the_asset_that_schedules_training(dagbag: dict[str, Any]) -> None:
    generator = dagbag["dags"]["fraud_generate_transactions"]
    monitor = dagbag["dags"]["fraud_monitor"]
    training = dagbag["dags"]["fraud_train_and_promote"]
    assert generator["outlets"]["generate_day"] == [TRANSACTIONS_URI]
    # only the alarm task emits it, and only runs when the model is not healthy
    assert monitor["outlets"] == {
        "alarm": [MODEL_HEALTH_URI],
        "check": [],
        "compact_predictions": [],
        "unhealthy": [],
    }
    # a monthly safety cron OR the monitoring alarm
    assert training["timetable"] == "AssetOrTimeSchedule"
    assert training["inner_timetable"] == "CronTriggerTimetable"
    assert training["schedule_assets"] == [MODEL_HEALTH_URI]


def test_bootstrap_is_manual_and_ready_to_trigger(dagbag: dict[str, Any]) -> None:
    bootstrap = dagbag["dags"]["fraud_bootstrap"]
    assert bootstrap["timetable"] == "NullTimetable"
    assert bootstrap["is_paused_upon_creation"] is False


def test_parsing_the_dags_imports_no_heavy_module(dagbag: dict[str, Any]) -> None:
    assert dagbag["heavy_modules_loaded"] == []


def _is_task(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated with ``@task``, ``@task(...)`` or ``@task.<flavour>(...)``."""
    for deco in fn.decorator_list:
        node = deco.func if isinstance(deco, ast.Call) else deco
        while isinstance(node, ast.Attribute):
            node = node.value
        if isinstance(node, ast.Name) and node.id == "task":
            return True
    return False


def _parse_time_imports(tree: ast.AST) -> list[str]:
    """Modules imported outside task bodies, i.e. whenever Airflow parses the file."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_task(node):
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_no_heavy_import_outside_tasks(path: Path) -> None:
    imported = _parse_time_imports(ast.parse(path.read_text()))
    roots = {name.split(".")[0] for name in imported}
    assert not roots & (HEAVY | {"fraudops"}), sorted(imported)


def test_the_ast_check_sees_imports_outside_tasks() -> None:
    source = (
        "import pandas\n"
        "@dag()\n"
        "def d():\n"
        "    import mlflow\n"
        "    @task\n"
        "    def t():\n"
        "        import xgboost\n"
    )
    assert _parse_time_imports(ast.parse(source)) == ["pandas", "mlflow"]


def test_dags_folder_default_is_this_checkout(tmp_path: Path) -> None:
    assert airflow_local.dags_folder(dag_settings(tmp_path / "home")) == DAGS_FOLDER
