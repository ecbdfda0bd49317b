"""Closing the loop on small data: `fraudops demo --drift`, then what it left behind.

One module-wide run of the drift demo (10 days of history, then 10 simulated days of
production, the drift switch on the 6th) through the CLI; the tests read the home it
filled: the checks' MLflow runs, ``fraud.model_health``, the inference log, and a report
written by ``fraudops monitor``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import tempfile
from pathlib import Path

import mlflow.artifacts
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from fraudops import lake, replay, tracking
from fraudops.cli import app
from fraudops.cli import common as cli_common
from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.monitoring import EXPERIMENT, Health, HealthStatus, retrain
from tests.support.settings import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIRST = dt.date(2026, 1, 11)  # the day after the 10 days of history
DRIFT = dt.date(2026, 1, 16)  # the demo's drift switch: 5 normal days of production first
LAST = dt.date(2026, 1, 20)


def _cli(settings: Settings, *args: str) -> str:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli_common, "get_settings", lambda: settings)
        result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def drift_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    # enough matured frauds in a week of 4,000 rows a day for decay to be judged
    s = make_settings(tmp_path_factory.mktemp("drift") / "home", monitor_min_frauds=50)
    output = _cli(s, "demo", "--no-serve", "--drift", "--drift-days", "10")
    return s, output


def _health(settings: Settings) -> list[dict[str, object]]:
    table = lake.model_health_table(lake.open_catalog(settings)).scan().to_arrow()
    return sorted(table.to_pylist(), key=lambda r: (r["window_to"], r["checked_at"]))


def test_the_demo_tells_the_story_day_by_day(drift_demo: tuple[Settings, str]) -> None:
    _, output = drift_demo
    lines = [line for line in output.splitlines() if re.match(r"2026-01-\d\d ", line)]
    assert [line[:10] for line in lines] == [
        (FIRST + dt.timedelta(days=i)).isoformat() for i in range(10)
    ]
    for line in lines[:5]:  # before the switch: no alarm
        assert "drifting" not in line and "decayed" not in line, line
    assert "drifting" in lines[5] or "decayed" in lines[5]  # the first drifted day
    # the history ended 6 days before: one day short of the cooldown, so it waits a day
    assert "too soon to retrain" in lines[5]
    assert "retrained" in lines[6]
    assert re.search(rf"detected\s+.*{DRIFT} \(1 daily window\(s\)\)", output), output


def test_the_sample_inbox_file_comes_after_the_simulated_days(
    drift_demo: tuple[Settings, str],
) -> None:
    # on the simulation's first day its unlabelled rows would count as legitimate there
    settings, _ = drift_demo
    (sample,) = (settings.home_dir / "inbox" / "processed").glob("sample-*.csv")
    with sample.open() as f:
        days = {row["event_ts"][:10] for row in csv.DictReader(f)}
    assert {d for d in days if d.startswith("20")} == {(LAST + dt.timedelta(days=1)).isoformat()}


def test_every_check_is_a_model_health_row(drift_demo: tuple[Settings, str]) -> None:
    settings, _ = drift_demo
    rows = _health(settings)
    assert [r["window_to"] for r in rows] == [FIRST + dt.timedelta(days=i) for i in range(10)]
    before = [r for r in rows if r["window_to"] < DRIFT]
    assert {r["status"] for r in before} == {"healthy"}
    first = rows[5]
    assert first["status"] in ("drifting", "decayed")
    assert "channel" in str(first["drifting_features"])
    assert float(first["max_feature_psi"]) > settings.drift_psi  # type: ignore[arg-type]
    assert all(float(r["max_feature_psi"]) < settings.drift_psi for r in before)  # type: ignore[arg-type]
    # matured labels reached the checks: decay was judged on real figures
    assert any(r["matured_ap"] is not None for r in rows)
    assert all(0 < float(r["label_coverage"]) <= 1 for r in rows)  # type: ignore[arg-type]


def test_every_check_is_an_mlflow_run_with_its_verdict(drift_demo: tuple[Settings, str]) -> None:
    settings, _ = drift_demo
    client = tracking.connect(settings)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], order_by=["params.as_of ASC"])
    assert len(runs) == 10
    by_id = {r.info.run_id: r for r in runs}
    for row in _health(settings):
        run = by_id[str(row["run_id"])]
        assert run.data.tags["fraudops.health"] == row["status"]
        assert run.data.params["as_of"] == str(row["window_to"])
        assert run.data.metrics["rows"] == row["rows"]
        assert "psi_channel" in run.data.metrics


def test_the_alarm_retrained_once_within_the_cooldown(drift_demo: tuple[Settings, str]) -> None:
    settings, output = drift_demo
    assert output.count("-> retrained") == 1
    client = tracking.connect(settings)
    versions = client.search_model_versions(f"name='{settings.model_name}'")
    retrained = [v for v in versions if str(v.version) != "1"]
    assert len(retrained) == 1
    run = client.get_run(retrained[0].run_id)
    day_after = DRIFT + dt.timedelta(days=1)
    assert run.data.tags["fraudops.trigger"].startswith(f"monitor {day_after}")


def test_replaying_a_day_again_replaces_it(drift_demo: tuple[Settings, str]) -> None:
    settings, _ = drift_demo
    table = lake.predictions_table(lake.open_catalog(settings))

    def replayed(day: dt.date) -> int:
        rows = lake.plain_strings(
            table.refresh().scan(row_filter=lake.days_filter([day])).to_arrow()
        )
        return int(pc.sum(pc.equal(rows["source"], replay.SOURCE)).as_py())

    before = replayed(FIRST)
    assert before == settings.rows_per_day
    result = replay.replay(settings, start=FIRST)
    assert result.rows == before
    assert replayed(FIRST) == before
    later = LAST + dt.timedelta(days=30)  # a day the lake does not hold: said, nothing logged
    with pytest.raises(FraudOpsError, match=rf"no transaction on {later}\.\..*holds 2026-01-01"):
        replay.replay(settings, start=later)


def test_fraudops_monitor_writes_an_offline_report(drift_demo: tuple[Settings, str]) -> None:
    settings, _ = drift_demo
    output = _cli(settings, "monitor", "--as-of", LAST.isoformat(), "--json")
    check = json.loads(output)
    assert check["as_of"] == LAST.isoformat()
    # production (v1, or v2 if the retrain passed the gate) scored the last day
    assert check["observed"]["rows"] == settings.rows_per_day
    assert check["health"]["status"] != "unknown"
    assert check["report"].endswith("report/drift_report.html")
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=check["run_id"], artifact_path="report/drift_report.html", dst_path=tmp
        )
        html = Path(path).read_text()
    assert "channel" in html and "fraud_probability" in html
    # self-contained: no script or stylesheet fetched from the network
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?://", html)
    assert len(_health(settings)) == 11


def test_monitor_without_a_production_model_says_so(tmp_path: Path) -> None:
    s = make_settings(tmp_path / "home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli_common, "get_settings", lambda: s)
        result = CliRunner().invoke(app, ["monitor"])
    assert result.exit_code != 0
    assert "nothing to monitor" in str(result.exception)


def _sweep(settings: Settings, *, cutoff: dt.date, status: str = "FINISHED") -> None:
    """A training run as train_sweep leaves it: named sweep, with its label cut-off tag."""
    client = tracking.connect(settings)
    experiment_id = tracking.ensure_experiment(client, settings)
    stamp = dt.datetime.combine(cutoff, dt.time(), dt.UTC).isoformat()
    run = client.create_run(experiment_id, run_name="sweep", tags={"fraudops.label_cutoff": stamp})
    client.set_terminated(run.info.run_id, status=status)


@pytest.mark.parametrize(
    ("status", "trainings", "due", "why"),
    [
        (HealthStatus.HEALTHY, [], False, "healthy: no retraining"),
        (HealthStatus.UNKNOWN, [], False, "unknown: no retraining"),
        (HealthStatus.DRIFTING, [], True, "drifting; never trained"),
        # labels up to Mar 4 (cut-off Mar 5 00:00): Mar 5..10 is 6 new days
        (HealthStatus.DRIFTING, [("2026-03-05", "FINISHED")], False, "6 new day(s) of data < 7"),
        (HealthStatus.DECAYED, [("2026-03-04", "FINISHED")], True, "7 new day(s) of data since"),
        # a failed training taught nothing: it does not hold a retrain back
        (
            HealthStatus.DRIFTING,
            [("2026-03-01", "FINISHED"), ("2026-03-09", "FAILED")],
            True,
            "10 new day(s)",
        ),
    ],
)
def test_an_alarm_retrains_once_new_labels_had_time_to_arrive(
    tmp_path: Path,
    status: HealthStatus,
    trainings: list[tuple[str, str]],
    due: bool,
    why: str,
) -> None:
    settings = make_settings(tmp_path / "home", retrain_cooldown_days=7)
    for cutoff, run_status in trainings:
        _sweep(settings, cutoff=dt.date.fromisoformat(cutoff), status=run_status)
    decision = retrain.decide(settings, Health(status, ["because"]), dt.date(2026, 3, 10))
    assert decision.due is due
    assert why in decision.reason
