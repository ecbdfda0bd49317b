"""Real files through ``score_inbox``, on a local inbox and on moto's S3, one run each.

The run holds: a good file, a file with a few bad rows, the good transactions with their
columns reordered (plus an extra column), a binary file, an empty file, a header-only file, a
file without a required column, a file that is not UTF-8, the good file's bytes under a second
name, traversal-style and control-character names, and files that are not ours to take.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraudops import inbox
from fraudops.config import Settings
from fraudops.demo import sample_csv
from fraudops.inbox import InboxSummary
from tests.support.inbox import (
    HEADER,
    get,
    hash_snapshots,
    inbox_settings,
    names,
    predictions,
    put,
    rejected,
    reorder,
    scored,
    scores,
    sha256,
)

GOOD = sample_csv(rows=2_500, bad_rows=False, seed=11)
BAD_ROWS = sample_csv(rows=300, seed=12)
BINARY = gzip.compress(GOOD, mtime=0)  # a compressed export renamed .csv
NOT_UTF8 = (HEADER + "\n" + GOOD.decode().splitlines()[1].replace("M0", "M\xe90", 1) + "\n").encode(
    "latin-1"
)
MISSING_AGE = GOOD.decode().replace('"age"', '"years"', 1).encode()
SECRET = b"do not read me\n"


@dataclass
class Scenario:
    settings: Settings
    summary: InboxSummary
    backend: str


@pytest.fixture(scope="module", params=["local", pytest.param("s3", marks=pytest.mark.integration)])
def run(
    request: pytest.FixtureRequest,
    trained_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Scenario:
    backend = request.param
    s3 = request.getfixturevalue("s3") if backend == "s3" else None
    tmp = tmp_path_factory.mktemp(f"files-{backend}")
    settings = inbox_settings(trained_settings, tmp, backend, s3)
    files = {
        "good.csv": GOOD,
        "bad_rows.csv": BAD_ROWS,
        "reordered.csv": reorder(GOOD),
        "binary.csv": BINARY,
        "empty.csv": b"",
        "header_only.csv": (HEADER + "\n").encode(),
        "missing_age.csv": MISSING_AGE,
        "latin1.csv": NOT_UTF8,
        "twin.csv": GOOD,
        "notes.txt": b"not a csv\n",
        ".upload.csv": GOOD,  # hidden: an upload in progress
        "x..%2f..%2fpasswd.csv": b"x\n",
        "bell\x07.csv": b"x\n",
    }
    for name, data in files.items():
        put(settings, f"incoming/{name}", data)
    if backend == "local":
        (tmp / "secret.txt").write_bytes(SECRET)
        os.symlink(tmp / "secret.txt", Path(settings.inbox_url) / "incoming" / "link.csv")
    else:
        put(settings, "incoming/../escape.csv", b"x\n")
        put(settings, "incoming/sub/nested.csv", GOOD)
    return Scenario(settings, inbox.score_inbox(settings), backend)


def _report(run: Scenario, name: str) -> inbox.FileReport:
    return next(r for r in run.summary.reports if r.file == name)


def test_summary_counts_every_outcome(run: Scenario) -> None:
    s = run.summary
    assert s.rows_scored == 2 * 2_500 + 293  # good, reordered, bad_rows' valid rows
    assert s.rows_rejected == 7
    assert s.duplicates == 1
    unsafe = 3 if run.backend == "local" else 4  # 2 bad names + a symlink, or ../ and nested keys
    assert s.files_quarantined == 4 + unsafe
    assert s.files == 4 + 1 + 4 + unsafe  # scored (incl. header-only), duplicate, unparseable
    assert json.loads(json.dumps(s.as_dict()))["rows_scored"] == s.rows_scored


def test_good_file_scored_like_the_registered_pyfunc(run: Scenario) -> None:
    import mlflow.pyfunc
    import pyarrow.csv as pacsv

    from fraudops import tracking
    from fraudops.model import to_model_frame
    from fraudops.validation import validate_table

    out = scored(run.settings, "good")
    source = pacsv.read_csv(
        pa.BufferReader(GOOD),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(HEADER.split(","), pa.string())
        ),
    )
    assert out["transaction_id"].to_pylist() == source["transaction_id"].to_pylist()
    s = run.settings
    tracking.connect(s)
    model = mlflow.pyfunc.load_model(f"models:/{s.model_name}@{s.model_alias}")
    expected = model.predict(to_model_frame(validate_table(source).valid))
    np.testing.assert_array_equal(
        out["fraud_probability"].to_numpy(), expected["fraud_probability"]
    )
    assert out["is_fraud"].to_pylist() == [bool(x) for x in expected["is_fraud"]]
    assert set(out["model_name"].to_pylist()) == {s.model_name}
    assert set(out["model_version"].to_pylist()) == {_report(run, "good.csv").model_version}
    assert get(s, "processed/good.csv") == GOOD
    assert "good.rejected.csv" not in names(s, "outbox")


def test_bad_rows_are_rejected_with_row_column_and_reason(run: Scenario) -> None:
    rej = rejected(run.settings, "bad_rows")
    lines = list(zip(rej["row"].to_pylist(), rej["column"].to_pylist(), strict=True))
    assert lines == [
        (3, "transaction_amount"),
        (4, "transaction_amount"),
        (5, "merchant_category"),
        (6, "event_ts"),
        (7, "*"),
        (8, "*"),
        (9, "credit_card_balance"),
    ]
    reasons = rej["reason"].to_pylist()
    assert reasons[0] == "not a finite number (NaN/inf)"
    assert reasons[1] == "must be > 0"
    assert reasons[2].startswith("unknown category")
    assert reasons[3].startswith("not an ISO-8601 timestamp")
    assert reasons[4] == "expected 18 fields, found 17"
    assert reasons[5] == "expected 18 fields, found 19"
    assert reasons[6] == "not a finite number (NaN/inf)"
    assert rej["value"].to_pylist()[:4] == ["NaN", "-12.50", "casino", "yesterday"]
    out = scored(run.settings, "bad_rows")
    assert out.num_rows == 293
    assert not set(out["transaction_id"].to_pylist()) & {f"T20260301-{i:07d}" for i in range(2, 9)}


def test_reordered_columns_with_an_extra_one_are_accepted(run: Scenario) -> None:
    good, moved = scored(run.settings, "good"), scored(run.settings, "reordered")
    assert moved.equals(good)


def test_unparseable_files_go_to_quarantine_with_the_reason(run: Scenario) -> None:
    s = run.settings
    expected = {
        "binary": (("not a text file", "not UTF-8"), BINARY),
        "empty": ("empty file", b""),
        "missing_age": ("missing required column(s): age", MISSING_AGE),
        "latin1": ("not UTF-8", NOT_UTF8),
    }
    for stem, (reason, data) in expected.items():
        error = json.loads(get(s, f"quarantine/{stem}.error.json") or b"{}")
        assert error["file"] == f"{stem}.csv"
        assert error["reason"].startswith(reason), error
        assert get(s, f"quarantine/{stem}.csv") == data  # kept byte for byte
        assert _report(run, f"{stem}.csv").status == "quarantined"
    outbox = names(s, "outbox")
    assert not [n for n in outbox if n.startswith(("binary", "empty", "missing_age", "latin1"))]


def test_header_only_file_gives_an_empty_result(run: Scenario) -> None:
    assert scored(run.settings, "header_only").num_rows == 0
    rep = _report(run, "header_only.csv")
    assert (rep.status, rep.rows_scored, rep.snapshot_id) == ("scored", 0, None)


def test_same_content_under_two_names_is_scored_once(run: Scenario) -> None:
    s = run.settings
    twin = _report(run, "twin.csv")
    assert twin.status == "duplicate"
    assert "good.csv" in (twin.reason or "")
    note = json.loads(get(s, "outbox/twin.duplicate.json") or b"{}")
    assert note["duplicate_of"] == "good.csv"
    assert "twin.scored.csv" not in names(s, "outbox")
    assert get(s, "processed/twin.csv") == GOOD
    lake_rows = scores(s).filter(pc.equal(scores(s)["content_hash"], sha256(GOOD)))
    assert lake_rows.num_rows == 2_500
    assert set(lake_rows["source_file"].to_pylist()) == {"good.csv"}


def test_unsafe_names_are_quarantined_never_followed(run: Scenario) -> None:
    s = run.settings
    unsafe = {"x..%2f..%2fpasswd.csv", "bell\x07.csv"}
    unsafe |= {"link.csv"} if run.backend == "local" else {"../escape.csv", "sub/nested.csv"}
    reports = {r.file: r for r in run.summary.reports if r.file in unsafe}
    assert set(reports) == unsafe
    for rep in reports.values():
        assert rep.status == "quarantined"
        assert rep.content_hash is None  # never read
        error_key = rep.outputs["error"].split("/quarantine/", 1)[1]
        assert "/" not in error_key and ".." not in error_key
        error = json.loads(get(s, f"quarantine/{error_key}") or b"{}")
        assert error["file"] == rep.file
    if run.backend == "local":
        root = Path(s.inbox_url)
        assert (root.parent / "secret.txt").read_bytes() == SECRET
        moved = [p for p in (root / "quarantine").iterdir() if p.is_symlink()]
        assert len(moved) == 1  # the link itself, still a link
    assert not any(n.startswith("sub") for n in names(s, "processed"))


def test_files_that_are_not_ours_stay_in_incoming(run: Scenario) -> None:
    assert names(run.settings, "incoming") == [".upload.csv", "notes.txt"]
    assert names(run.settings, "claimed") == []
    assert names(run.settings, "ledger/claims") == []


def test_lake_holds_each_scored_row_once(run: Scenario) -> None:
    s = run.settings
    table = scores(s)
    assert table.num_rows == run.summary.rows_scored
    for name, data in (("good.csv", GOOD), ("bad_rows.csv", BAD_ROWS)):
        mine = table.filter(pc.equal(table["content_hash"], sha256(data)))
        assert set(mine["source_file"].to_pylist()) == {name}
        ids = mine["transaction_id"]
        assert len(pc.unique(ids)) == mine.num_rows
        assert hash_snapshots(s, sha256(data)) == 1
        rep = _report(run, name)
        outbox = scored(s, name.removesuffix(".csv"))
        assert sorted(ids.to_pylist()) == sorted(outbox["transaction_id"].to_pylist())
        assert rep.snapshot_id is not None
    assert set(table["model_version"].to_pylist()) == {_report(run, "good.csv").model_version}


def test_the_inference_log_holds_each_scored_row_once_with_its_inputs(run: Scenario) -> None:
    s = run.settings
    logged = predictions(s)
    assert logged.num_rows == run.summary.rows_scored
    # every row scored appears in the log as often as in fraud.scores: once per file
    per_id = logged.group_by("transaction_id").aggregate([("transaction_id", "count")])
    in_scores = scores(s).group_by("transaction_id").aggregate([("transaction_id", "count")])
    assert sorted(per_id.to_pylist(), key=str) == sorted(in_scores.to_pylist(), key=str)
    assert set(logged["source"].to_pylist()) == {"inbox"}
    for data in (GOOD, BAD_ROWS):
        assert hash_snapshots(s, sha256(data), table_name="predictions") == 1
    np.testing.assert_allclose(  # the same scores as fraud.scores and the outbox
        np.sort(logged["fraud_probability"].to_numpy()),
        np.sort(scores(s)["fraud_probability"].to_numpy()),
    )
    assert pc.min(logged["transaction_amount"]).as_py() > 0  # the inputs are there, typed


def test_a_second_run_finds_nothing_to_do(run: Scenario) -> None:
    before = scores(run.settings).num_rows
    again = inbox.score_inbox(run.settings)
    assert (again.files, again.rows_scored, again.duplicates) == (0, 0, 0)
    assert scores(run.settings).num_rows == before
