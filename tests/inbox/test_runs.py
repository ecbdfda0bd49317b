"""One run at a time, the CLI command, and the helpers people use to drop files."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fraudops import inbox, modelimports, registry
from fraudops.cli import app
from fraudops.config import Settings, get_settings
from fraudops.demo import sample_csv
from fraudops.errors import FraudOpsError
from fraudops.inbox.storage import open_storage
from fraudops.inbox.storage.s3 import S3Storage
from tests.support.fresh import run_fresh
from tests.support.inbox import names, put


def test_a_second_concurrent_run_is_refused(fresh_inbox: Settings) -> None:
    store = open_storage(fresh_inbox)
    store.ensure()
    try:
        if isinstance(store, S3Storage):
            lease = {
                "owner": "x",
                "host": os.uname().nodename,
                "pid": os.getpid(),  # alive: this test
                "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat(),
            }
            store.client.put_object(
                Bucket=store.bucket, Key=store._key(".lock"), Body=json.dumps(lease).encode()
            )
            with pytest.raises(FraudOpsError, match="another score-inbox run"):
                inbox.score_inbox(fresh_inbox)
            lease["expires_at"] = "2000-01-01T00:00:00+00:00"  # a lease nobody renewed
            store.client.put_object(
                Bucket=store.bucket, Key=store._key(".lock"), Body=json.dumps(lease).encode()
            )
            assert inbox.score_inbox(fresh_inbox).files == 0  # taken over
            lock = json.loads(store.read_bytes(".lock") or b"{}")
            assert lock["released"] is True and lock["epoch"] == 1  # released, epoch kept
        else:
            root = Path(fresh_inbox.inbox_url)
            fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # what a run holds
                with pytest.raises(FraudOpsError, match="another score-inbox run"):
                    inbox.score_inbox(fresh_inbox)
            finally:
                os.close(fd)
            assert inbox.score_inbox(fresh_inbox).files == 0
    finally:
        store.close()


def test_drop_file_takes_plain_csv_names_only(fresh_inbox: Settings) -> None:
    where = inbox.drop_file(fresh_inbox, "mine.csv", b"a\n")
    assert where.endswith("incoming/mine.csv")
    for bad in ("../x.csv", "a/b.csv", "x.txt", "new\nline.csv"):
        with pytest.raises(ValueError, match="plain"):
            inbox.drop_file(fresh_inbox, bad, b"a\n")
    assert names(fresh_inbox, "incoming") == ["mine.csv"]


@pytest.fixture
def cli_env(
    trained_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """The CLI's environment: the trained registry, a fresh inbox and lake."""
    for key in list(os.environ):
        if key.startswith("FRAUDOPS_"):
            monkeypatch.delenv(key)
    env = {
        "FRAUDOPS_HOME": str(trained_settings.home_dir),
        "FRAUDOPS_INBOX": str(tmp_path / "inbox"),
        "FRAUDOPS_CATALOG_URI": f"sqlite:///{tmp_path / 'catalog.db'}",
        "FRAUDOPS_WAREHOUSE": (tmp_path / "warehouse").as_uri(),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no .env from the working folder
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        get_settings.cache_clear()


def test_cli_score_inbox_json(cli_env: Settings, tmp_path: Path) -> None:
    settings = cli_env
    inbox.drop_file(settings, "cli.csv", sample_csv(rows=100))
    put(settings, "incoming/empty.csv", b"")
    result = CliRunner().invoke(app, ["score-inbox", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["files"], body["rows_scored"], body["rows_rejected"]) == (2, 93, 7)
    assert body["files_quarantined"] == 1
    assert body["outbox"] == str(tmp_path / "inbox" / "outbox")
    again = CliRunner().invoke(app, ["score-inbox"])
    assert again.exit_code == 0, again.output
    assert "0 file(s)" in again.stdout


def test_each_file_reports_the_seconds_of_its_steps(cli_env: Settings) -> None:
    inbox.drop_file(cli_env, "timed.csv", sample_csv(rows=100))
    put(cli_env, "incoming/empty.csv", b"")

    result = CliRunner().invoke(app, ["score-inbox", "--json"])

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    seconds = {r["file"]: r["seconds"] for r in body["reports"]}
    scored = ("claim", "validate", "lake_history", "card_history", "features", "predict")
    scored += ("outbox", "publish", "lake_commit", "finish")
    assert tuple(seconds["timed.csv"]) == scored  # in the order the file went through them
    assert tuple(seconds["empty.csv"]) == ("claim", "finish")  # quarantined when claimed
    steps = [s for file in seconds.values() for s in file.values()]
    assert all(s >= 0 for s in steps)
    assert sum(steps) <= body["seconds"] + 0.01  # parts of the run, none counted twice


def test_cli_prints_file_names_as_they_are(cli_env: Settings) -> None:
    markup = "[bold red]PAY NOW[blink] at evil.example.csv"  # no slash: a valid file name
    put(cli_env, f"incoming/{markup}", sample_csv(rows=20, bad_rows=False))
    put(cli_env, "incoming/\x1b[31mred\x1b[0m.csv", b"x\n")  # quarantined: a control character

    result = CliRunner().invoke(app, ["score-inbox"], env={"COLUMNS": "400"})

    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout  # no escape sequence from a name reaches the terminal
    assert "[bold red]PAY NOW[blink] at evil.example.csv" in result.stdout
    assert "\\x1b[31mred" in result.stdout  # shown, escaped


def test_a_failed_file_gives_a_failing_exit_code(
    cli_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox.drop_file(cli_env, "cli.csv", sample_csv(rows=20))

    def registry_down(_settings: Settings) -> object:
        raise ConnectionError("http://mlflow:5000 is unreachable")

    monkeypatch.setattr(registry, "load_production_scorer", registry_down)
    result = CliRunner().invoke(app, ["score-inbox"])

    assert result.exit_code == 1, result.output
    assert "failed" in result.stdout
    assert names(cli_env, "claimed") == ["cli.csv"]  # in flight, for the next run


LEAN_RUN = """
import contextlib, io, json, sys
sys.argv = ['fraudops', 'score-inbox', '--json']
from fraudops.cli import app
with contextlib.redirect_stdout(io.StringIO()) as printed:
    app(standalone_mode=False)
summary = json.loads(printed.getvalue())
print(json.dumps([summary["rows_scored"], [m for m in ("sklearn", "pyspark") if m in sys.modules]]))
"""


def test_cli_scores_with_a_model_loaded_without_scikit_learn(cli_env: Settings) -> None:
    """`fraudops score-inbox` trains nothing: its model loads as the API's does, lean."""
    inbox.drop_file(cli_env, "lean.csv", sample_csv(rows=100))
    env = {k: v for k, v in os.environ.items() if k.startswith("FRAUDOPS_")}
    done = run_fresh(LEAN_RUN, env)
    scored, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert scored == 93  # the file's 100 rows less its 7 bad ones
    assert loaded == [], f"scoring the inbox imported {loaded}"


def test_scoring_only_is_said_for_the_command_alone() -> None:
    """A process that trains after the command (dag.test(), the demo) loads the full libraries."""
    with modelimports.scoring_only():
        assert modelimports._scoring_only
    assert not modelimports._scoring_only
