"""Starting is cheap: the CLI and the API import the heavy modules only when they use them.

Each case runs in a fresh interpreter (this one has imported everything already) and lists
which of the modules that only training, Spark or the MLflow server need it loaded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.fresh import run_fresh

# imported only by the commands that use them (SciPy: via scikit-learn and XGBoost)
UNWANTED = ("pyspark", "scipy", "sklearn", "xgboost", "mlflow", "mlflow.server")

REPORT = f"""
import json, sys
print(json.dumps(sorted(m for m in {UNWANTED!r} if m in sys.modules)))
"""


def last_json_line(code: str, home: Path, **env: str) -> Any:
    """Run ``code`` in a fresh interpreter (no CI or pytest variables); its last line, as JSON."""
    done = run_fresh(code, {"FRAUDOPS_HOME": str(home), **env})
    return json.loads(done.stdout.strip().splitlines()[-1])


CASES = {
    "import fraudops.api.app": "import fraudops.api.app\n",
    "create_app()": (
        "from fraudops.api.app import create_app\n"
        "from fraudops.config import Settings\n"
        "create_app(Settings())\n"
    ),
    "fraudops --help": (
        "import contextlib, io, sys\n"
        "sys.argv = ['fraudops', '--help']\n"
        "from fraudops.cli import app\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    app(standalone_mode=True)\n"
    ),
    # nothing to score: no model is loaded, so neither MLflow nor XGBoost is imported
    "fraudops score-inbox, empty inbox": (
        "import contextlib, io, sys\n"
        "sys.argv = ['fraudops', 'score-inbox']\n"
        "from fraudops.cli import app\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    app(standalone_mode=False)\n"
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_start_imports_no_training_spark_or_mlflow_server_module(case: str, tmp_path: Path) -> None:
    loaded = last_json_line(
        CASES[case] + REPORT, tmp_path, FRAUDOPS_API_KEYS="start-test-key-0123456789abcdef"
    )
    assert loaded == [], f"{case} imported {loaded}"


# the lake's libraries: imported with the first file to score, not by an empty inbox's pass
LAKE = ("pyiceberg", "sqlalchemy", "pandas")


def test_empty_inbox_pass_imports_no_lake(tmp_path: Path) -> None:
    report = REPORT.replace(repr(UNWANTED), repr(LAKE))
    loaded = last_json_line(CASES["fraudops score-inbox, empty inbox"] + report, tmp_path)
    assert loaded == [], f"an empty inbox's pass imported {loaded}"


TELEMETRY = """
import json, sys
import mlflow.telemetry.client as telemetry
print(json.dumps(telemetry.get_telemetry_client() is None))
"""

MLFLOW_USERS = {
    "the CLI": CASES["fraudops score-inbox, empty inbox"],
    "the API's model load": (
        "from fraudops.modelimports import import_model_libraries\nimport_model_libraries()\n"
    ),
}


@pytest.mark.parametrize("case", MLFLOW_USERS)
def test_mlflow_telemetry_is_off_where_fraudops_imports_mlflow(case: str, tmp_path: Path) -> None:
    """Nothing fetches from the internet at run time: MLflow's usage telemetry would."""
    assert last_json_line(MLFLOW_USERS[case] + TELEMETRY, tmp_path) is True


COLLECTION = """
import gc, json, sys
sys.argv = ['fraudops', '--help']
from fraudops.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps([list(gc.get_threshold()), gc.get_freeze_count() > 0]))
"""


def test_a_command_collects_less_often_and_exits_without_collecting(tmp_path: Path) -> None:
    """Its imports' objects are not walked over and over; at exit they are frozen, not collected."""
    from fraudops.cli.common import COMMAND_COLLECTION

    threshold, frozen = last_json_line(COLLECTION, tmp_path)
    assert tuple(threshold) == COMMAND_COLLECTION
    assert frozen


def test_the_api_server_collects_at_cpython_thresholds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A server's pauses stay short: only commands that run and exit collect less often."""
    import gc

    from typer.testing import CliRunner

    from fraudops.api import server
    from fraudops.cli import app
    from fraudops.cli.common import COMMAND_COLLECTION, CPYTHON_COLLECTION

    monkeypatch.setenv("FRAUDOPS_HOME", str(tmp_path))
    seen: list[tuple[int, int, int]] = []
    monkeypatch.setattr(server, "serve", lambda *_a, **_k: seen.append(gc.get_threshold()))
    before = gc.get_threshold()
    gc.set_threshold(*COMMAND_COLLECTION)
    try:
        result = CliRunner().invoke(app, ["serve"])
    finally:
        gc.set_threshold(*before)
    assert result.exit_code == 0, result.output
    assert seen == [CPYTHON_COLLECTION]


SPIN = re.compile(r"GOMP_SPINCOUNT = '(\d+)'")
OPENMP_CASES = {  # (code, OMP_WAIT_POLICY set by the user, XGBoost's threads spin for)
    "a scoring process": (MLFLOW_USERS["the API's model load"], None, "0"),
    "a scoring process, the user's own policy": (
        MLFLOW_USERS["the API's model load"],
        "ACTIVE",
        "30000000000",
    ),
    "training": ("import fraudops.train\n", None, "300000"),  # OpenMP's default: spin a while
}


@pytest.mark.parametrize("case", OPENMP_CASES)
def test_xgboost_threads_sleep_between_calls_only_in_scoring_processes(
    case: str, tmp_path: Path
) -> None:
    """A server's TreeSHAP passes leave OpenMP's threads idle between calls: there they sleep."""
    code, policy, spins = OPENMP_CASES[case]
    env = {"FRAUDOPS_HOME": str(tmp_path), "OMP_DISPLAY_ENV": "VERBOSE"}
    done = run_fresh(code, {**env, "OMP_WAIT_POLICY": policy} if policy else env)
    assert SPIN.findall(done.stderr) == [spins], done.stderr[-2000:]
