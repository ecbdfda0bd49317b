"""Appends: exactly once per content (the inbox's files), or as they come (the API's log).

An exactly-once append carries the content hash of its file in the snapshot summary, so a
rerun can tell that the file was already committed; a fencing token in the table properties
keeps a run that lost its lock from committing after the run that took it.
"""

from __future__ import annotations

import itertools
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import BooleanExpression

# Table.append streams only into unpartitioned tables in pyiceberg 0.12 (iceberg-python#2152):
# append_once writes data files batch by batch with its helper (pinned < 0.13)
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from fraudops.errors import Fenced, FraudOpsError
from fraudops.lake.catalog import arrow_schema_of

CONTENT_HASH_PROPERTY = "fraudops.content_hash"
COMMIT_ATTEMPTS = 20
# pyiceberg retries a refused commit by itself, re-applying the append onto the new table
# state: past the "already committed?" check and the fence. Every writer here retries from
# its own check instead, so the tables it writes turn pyiceberg's retries off.
LIBRARY_RETRIES = "commit.retry.num-retries"
WRITE_THREADS = 2  # batches of one append written side by side


def own_retries(table: Table) -> None:
    """Turn pyiceberg's own commit retries off on ``table`` (once; a no-op afterwards).

    Writers in other processes may do the same at the same moment (two API workers'
    committers starting together): the one refused looks again.
    """
    for _ in range(COMMIT_ATTEMPTS):
        if table.properties.get(LIBRARY_RETRIES) == "0":
            return
        try:
            with table.transaction() as tx:
                tx.set_properties({LIBRARY_RETRIES: "0"})
            return
        except CommitFailedException:
            table.refresh()
    raise FraudOpsError(f"{'.'.join(table.name())}: {COMMIT_ATTEMPTS} commits were refused")


def committed_snapshot(table: Table, content_hash: str) -> int | None:
    """The snapshot (in the table's history) whose summary carries ``content_hash``, if any.

    Every snapshot the metadata keeps is looked at, not only the current one's ancestors:
    :func:`forget_own` takes frequent writers' snapshots out of the middle of the chain.
    """
    table.refresh()
    for snap in sorted(table.snapshots(), key=lambda s: s.timestamp_ms, reverse=True):
        if snap.summary is not None and snap.summary[CONTENT_HASH_PROPERTY] == content_hash:
            return snap.snapshot_id
    return None


SOURCE_PROPERTY = "fraudops.source"


def forget_own(table: Table, *, source: str, keep: int) -> int:
    """Forget all but the newest ``keep`` snapshots ``source`` committed; how many went.

    The table's metadata lists every snapshot, and each commit rewrites it: a writer that
    commits every few seconds (the API's inference log) would make each commit slower than
    the last (about 4x slower after 300: ``make bench ARGS=predlog``). Its old snapshots go
    once there are twice ``keep`` of them (one metadata commit now and then, not one per
    append); their rows stay. Other writers' snapshots (the inbox's, found again by their
    content hash on a rerun) are kept.
    """
    current = table.current_snapshot()
    own = sorted(
        (
            snap
            for snap in table.snapshots()
            if snap.summary is not None
            and snap.summary.get(SOURCE_PROPERTY) == source
            and (current is None or snap.snapshot_id != current.snapshot_id)
        ),
        key=lambda snap: snap.timestamp_ms,
    )
    if len(own) < 2 * keep:
        return 0
    old = [snap.snapshot_id for snap in own[: len(own) - keep]]
    retried(table, lambda: table.maintenance.expire_snapshots().by_ids(old).commit())
    return len(old)


def _data_files(table: Table, batches: Iterable[pa.Table]) -> list[DataFile]:
    """The batches written as data files of ``table``, in order, ``WRITE_THREADS`` at a time.

    Encoding Parquet releases the GIL: a batch is written while the next one is; at most
    ``WRITE_THREADS`` batches are held at once beyond the caller's.
    """
    schema = arrow_schema_of(table)
    counter = itertools.count(0)  # unique data file names across batches (atomic: C)
    write_uuid = uuid.uuid4()

    def write(batch: pa.Table) -> list[DataFile]:
        return list(
            _dataframe_to_data_files(
                table_metadata=table.metadata,
                write_uuid=write_uuid,
                df=batch.select(schema.names).cast(schema),
                io=table.io,
                counter=counter,
            )
        )

    files: list[DataFile] = []
    with ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="fraudops-lake-writer") as pool:
        writing: deque[Future[list[DataFile]]] = deque()
        for batch in batches:
            if batch.num_rows:
                writing.append(pool.submit(write, batch))
            if len(writing) >= WRITE_THREADS:
                files.extend(writing.popleft().result())
        while writing:
            files.extend(writing.popleft().result())
    return files


@dataclass(frozen=True)
class Fence:
    """A writer's fencing token: a commit is refused once a writer with a larger one committed.

    ``key`` names the writer's lock (one inbox) in the table properties; ``check`` raises
    when the writer no longer holds its lock.
    """

    key: str
    token: int
    check: Callable[[], None]


def append_once(
    table: Table,
    batches: Iterable[pa.Table],
    *,
    content_hash: str,
    properties: dict[str, str],
    fence: Fence | None = None,
) -> int:
    """Append score batches as ONE snapshot tagged with ``content_hash``; returns its id.

    Batches are written to data files one at a time (memory stays bounded by a batch), then
    committed together, so a file's rows appear all at once or not at all. "Already
    committed?", the fence and the append are one optimistic commit: it fails if anything was
    committed since the check, and is then tried again from the check, so a retried commit
    finds its own earlier one and two writers never both append the same content.
    """
    files = _data_files(table, batches)
    summary = {**properties, CONTENT_HASH_PROPERTY: content_hash}
    own_retries(table)
    for _ in range(COMMIT_ATTEMPTS):
        done = committed_snapshot(table, content_hash)  # refreshes the table
        if done is not None:
            return done
        if fence is not None:
            newest = int(table.properties.get(fence.key, "0"))
            if newest > fence.token:
                raise Fenced(f"a newer run (token {newest} > {fence.token}) committed first")
            fence.check()
        try:
            with table.transaction() as tx:
                if fence is not None:
                    tx.set_properties({fence.key: str(fence.token)})
                with tx.update_snapshot(snapshot_properties=summary).fast_append() as append:
                    for data_file in files:
                        append.append_data_file(data_file)
        except CommitFailedException:
            continue  # someone committed since the check: check again
        snap = table.current_snapshot()
        assert snap is not None
        return snap.snapshot_id
    raise FraudOpsError(f"{'.'.join(table.name())}: {COMMIT_ATTEMPTS} commits were refused")


def retried(table: Table, commit: Callable[[], None]) -> int | None:
    """Run ``commit`` (one Iceberg commit) until no other writer got in first; the snapshot after.

    A refused commit refreshes the table and runs ``commit`` again on the new state, up to
    :data:`COMMIT_ATTEMPTS` times. Writers with a check of their own before each attempt (an
    exactly-once append) keep their own loop instead.
    """
    own_retries(table)
    for _ in range(COMMIT_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # the first time: "delete did not match any records"
                warnings.simplefilter("ignore", UserWarning)
                commit()
        except CommitFailedException:
            table.refresh()
            continue
        snap = table.current_snapshot()
        return snap.snapshot_id if snap else None
    raise FraudOpsError(f"{'.'.join(table.name())}: {COMMIT_ATTEMPTS} commits were refused")


def append(table: Table, data: pa.Table, *, properties: dict[str, str] | None = None) -> int:
    """Append rows as one snapshot, trying again when another writer committed first."""
    schema = arrow_schema_of(table)
    data = data.select(schema.names).cast(schema)
    snapshot = retried(table, lambda: table.append(data, snapshot_properties=properties or {}))
    assert snapshot is not None
    return snapshot


def overwrite(table: Table, data: pa.Table, *, where: BooleanExpression) -> int | None:
    """Replace the rows ``where`` matches with ``data`` in one snapshot; the snapshot after.

    When another writer committed first, the overwrite is tried again on the new state.
    """
    schema = arrow_schema_of(table)
    data = data.select(schema.names).cast(schema)
    return retried(table, lambda: table.overwrite(data, overwrite_filter=where))
