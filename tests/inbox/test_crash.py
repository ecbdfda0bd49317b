"""Exactly once across SIGKILL: kill a run after each of its writes, rerun, check everything.

For k = 1, 2, ...: a fresh inbox and lake get a file with a few bad rows, the same bytes under a
second name and an unparseable file; a child process runs ``score_inbox`` and is SIGKILLed
right after its k-th write; a normal run follows. Whatever k, the outbox, ``processed/``,
``quarantine/`` and ``fraud.scores`` must then hold each result exactly once. The loop ends
when a child finishes without being killed: every write point has been covered.

Children are forked by a forkserver that has the package imported, so each costs a fork,
not an interpreter start; there is no sleep and no timing anywhere.
"""

from __future__ import annotations

import multiprocessing
import signal
from pathlib import Path

import pyarrow.compute as pc
import pytest

from fraudops import inbox, registry
from fraudops.config import Settings
from fraudops.demo import sample_csv
from tests.support import crashing
from tests.support.inbox import (
    HEADER,
    get,
    hash_snapshots,
    inbox_settings,
    names,
    predictions,
    put,
    rejected,
    scored,
    scores,
    sha256,
)

GOOD = sample_csv(rows=200, seed=21)  # 193 valid rows, 7 rejected
BROKEN = HEADER.replace("channel", "chanel").encode() + b"\n1,2\n"
FILES = {"a-good.csv": GOOD, "b-twin.csv": GOOD, "c-broken.csv": BROKEN}
# S3 requests go through moto (a few ms each): there the unparseable file is left out, its
# quarantine move being the same S3 move as processed/ (test_files quarantines on S3 too)
S3_FILES = {k: v for k, v in FILES.items() if k != "c-broken.csv"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def forkserver() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.support.crashing"])
    return ctx


@pytest.fixture(scope="module")
def local_model(
    trained_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    scorer, version = registry.load_production_scorer(trained_settings)
    folder = scorer.save(tmp_path_factory.mktemp("crash-model") / "scorer")
    return str(folder), version


def check_exactly_once(settings: Settings, files: dict[str, bytes]) -> None:
    out = scored(settings, "a-good")
    ids = out["transaction_id"]
    assert out.num_rows == 193
    assert len(pc.unique(ids)) == 193
    assert rejected(settings, "a-good").num_rows == 7
    assert names(settings, "outbox") == [
        "a-good.rejected.csv",
        "a-good.scored.csv",
        "b-twin.duplicate.json",
    ]
    assert names(settings, "processed") == ["a-good.csv", "b-twin.csv"]
    assert get(settings, "processed/a-good.csv") == GOOD
    broken = ["c-broken.csv", "c-broken.error.json"] if "c-broken.csv" in files else []
    assert names(settings, "quarantine") == broken
    for folder in ("incoming", "claimed", "ledger/claims"):
        assert names(settings, folder) == [], folder
    table = scores(settings)
    assert table.num_rows == 193
    assert sorted(table["transaction_id"].to_pylist()) == sorted(ids.to_pylist())
    assert set(table["content_hash"].to_pylist()) == {sha256(GOOD)}
    assert hash_snapshots(settings, sha256(GOOD)) == 1
    logged = predictions(settings)  # the inference log: each row once too
    assert sorted(logged["transaction_id"].to_pylist()) == sorted(ids.to_pylist())
    assert hash_snapshots(settings, sha256(GOOD), table_name="predictions") == 1


@pytest.mark.parametrize("backend", ["local", pytest.param("s3", marks=pytest.mark.integration)])
def test_killed_after_any_write_then_rerun_scores_each_row_once(
    backend: str,
    request: pytest.FixtureRequest,
    trained_settings: Settings,
    tmp_path: Path,
    forkserver: multiprocessing.context.BaseContext,
    local_model: tuple[str, str],
) -> None:
    s3 = request.getfixturevalue("s3") if backend == "s3" else None
    files = FILES if backend == "local" else S3_FILES
    scorer_dir, version = local_model
    kill_after = 0
    while True:
        kill_after += 1
        # the lake's commit marker lives in its catalog either way: a local warehouse keeps
        # each child from starting pyarrow's S3 client (test_files covers an S3 warehouse)
        settings = inbox_settings(
            trained_settings, tmp_path / f"k{kill_after}", backend, s3, warehouse_on_s3=False
        )
        for name, data in files.items():
            put(settings, f"incoming/{name}", data)
        child = forkserver.Process(  # type: ignore[attr-defined]
            target=crashing.run_until_killed,
            args=(settings, scorer_dir, version, kill_after, str(tmp_path / "tmp")),
        )
        child.start()
        child.join(timeout=300)
        if child.exitcode == 0:  # fewer writes than kill_after: every point was covered
            break
        assert child.exitcode == -signal.SIGKILL, f"child failed at write {kill_after}"
        inbox.score_inbox(settings)
        try:
            check_exactly_once(settings, files)
        except AssertionError as exc:
            raise AssertionError(f"killed after write {kill_after}: {exc}") from exc
    check_exactly_once(settings, files)  # the run that was not killed
    assert kill_after > 15
