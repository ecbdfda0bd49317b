"""Drop-folder batch scoring: claim, validate, score, publish, commit, exactly once.

Layout of an inbox (a local folder or an ``s3://bucket/prefix``)::

    incoming/     people drop *.csv files here
    claimed/      files being worked on (a killed run leaves them; the next run resumes them)
    processed/    inputs that were scored, or were duplicates of scored content
    quarantine/   inputs that could not be parsed, each with <stem>.error.json
    outbox/       <stem>.scored.csv, <stem>.rejected.csv, <stem>.duplicate.json
    ledger/       claims/<name>.json (files in flight), content/<sha256>.json (finished)

Each file moves through states recorded in its claim record before the step's effect is
made visible: ``claimed`` -> ``scoring`` (content hash, output name and model version pinned)
-> ``published`` (outbox files in place) -> ``committed`` (rows in ``fraud.scores``; the
snapshot summary carries the content hash) -> moved to ``processed/`` and a content record
written. Every step can be repeated, so a run killed at any point and run again leaves each
file's rows in the outbox and in the lake exactly once; content already scored under any name
is reported as a duplicate and not scored again.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fraudops.config import Settings
from fraudops.storage import Entry, InboxLock, Storage, open_storage
from fraudops.validation import REJECTED_SCHEMA, REQUIRED, SchemaError, check_columns

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from fraudops.model import FraudScorer

INCOMING, CLAIMED, PROCESSED, QUARANTINE, OUTBOX = (
    "incoming",
    "claimed",
    "processed",
    "quarantine",
    "outbox",
)
CLAIMS, CONTENT = "ledger/claims", "ledger/content"

SCORED_CSV_SCHEMA = pa.schema(
    [
        ("transaction_id", pa.string()),
        ("fraud_probability", pa.float64()),
        ("is_fraud", pa.bool_()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
    ]
)
HEADER_LIMIT = 1024 * 1024  # a header line longer than this is not a CSV we take
BLOCK_SIZE = 4 * 1024 * 1024  # bytes parsed at a time
MAX_NAME_BYTES = 200
MAX_REPORTED_TEXT = 1000  # characters of a malformed row kept in the rejected file
_WRITE = pacsv.WriteOptions(quoting_style="needed")


class Unparseable(Exception):
    """The file cannot be read as a CSV of transactions at all (it goes to quarantine)."""


# -- names ----------------------------------------------------------------------------------


def unsafe_name(name: str) -> str | None:
    """Why a name under ``incoming/`` must not be used as a file name (None: it is safe)."""
    if "/" in name or "\\" in name:
        return "the name contains a slash"
    if ".." in name:
        return "the name contains '..'"
    if "\x00" in name:
        return "the name contains a NUL character"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in name):
        return "the name contains a control or non-printable character"
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return f"the name is longer than {MAX_NAME_BYTES} bytes"
    return None


def classify(entry: Entry) -> str | None:
    """``"take"``, None to leave the entry alone, or the reason to quarantine it."""
    if entry.kind == "dir":
        return None
    problem = unsafe_name(entry.name)
    if problem:
        return f"unsafe file name: {problem}; the file was not read"
    if entry.name.startswith(".") or not entry.name.lower().endswith(".csv"):
        return None  # hidden (uploads in progress) or not a CSV: not ours
    if entry.kind != "file":
        return "not a regular file (symbolic links are never followed); the file was not read"
    return "take"


def _quarantine_name(raw: str) -> str:
    digest = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    hint = re.sub(r"[^A-Za-z0-9_-]+", "_", raw)[:60].strip("_") or "file"
    return f"{hint}.{digest}"


# -- reading --------------------------------------------------------------------------------


def read_header(path: Path) -> list[str]:
    """The column names of a CSV file; raises :class:`Unparseable` for what is not one."""
    with open(path, "rb") as fh:
        head = fh.read(HEADER_LIMIT + 1)
    head = head.removeprefix(codecs.BOM_UTF8)
    if not head.strip():
        raise Unparseable("empty file")
    ends = [i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0]
    if not ends and len(head) > HEADER_LIMIT:
        raise Unparseable(f"no header line within the first {HEADER_LIMIT} bytes")
    line = head[: min(ends)] if ends else head
    if b"\x00" in line:
        raise Unparseable("not a text file (NUL byte in the first line)")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unparseable(
            f"not UTF-8 text (invalid byte at offset {exc.start} of the first line)"
        ) from None
    names = [name.strip() for name in next(csv.reader([text]), [])]
    try:
        check_columns(names)
    except SchemaError as exc:
        raise Unparseable(str(exc)) from None
    return names


@dataclass
class Chunk:
    """Rows of one file as text, with their row numbers (1 = first row after the header)."""

    table: pa.Table
    first: int  # the number of the first row if no row before it was malformed
    rows: np.ndarray  # the real row number of every row of ``table``
    malformed: list[tuple[int, str, int, int]]  # (row, text, expected, actual) in this span


def _original_rows(start: int, n: int, skipped: np.ndarray) -> np.ndarray:
    """Row numbers of parsed rows ``start..start+n-1`` given the malformed rows skipped."""
    idx = np.arange(start, start + n, dtype=np.int64)
    if len(skipped) == 0:
        return idx + 1
    parsed_before = skipped - np.arange(len(skipped)) - 1  # parsed rows before each skip
    return idx + 1 + np.searchsorted(parsed_before, idx, side="right")


def read_chunks(
    path: Path,
    names: list[str],
    *,
    chunk_rows: int,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Chunk]:
    """Stream the contract's columns as text, ``chunk_rows`` at a time.

    Rows with the wrong number of fields are skipped by the parser and reported with the
    chunk their row number falls in; every row keeps the number it has in the file.
    """
    malformed: list[tuple[int, str, int, int]] = []

    def on_invalid(row: Any) -> str:
        text = row.text or ""
        if row.number is None:  # only known to a single-threaded reader
            raise Unparseable("cannot number malformed rows")
        if text.strip():  # blank lines are not rows
            malformed.append(
                (row.number - 1, text[:MAX_REPORTED_TEXT], row.expected_columns, row.actual_columns)
            )
        return "skip"

    stream = pa.OSFile(str(path))
    try:
        reader = pacsv.open_csv(
            stream,
            # single-threaded parsing keeps the row numbers of skipped rows known
            read_options=pacsv.ReadOptions(
                column_names=names, skip_rows=1, block_size=BLOCK_SIZE, use_threads=False
            ),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in REQUIRED},
                include_columns=list(REQUIRED),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        parsed = 0  # rows parsed so far
        reported = 0  # malformed rows handed out so far
        pending: list[pa.RecordBatch] = []
        pending_rows = 0

        def emit(batches: list[pa.RecordBatch], n: int, *, last: bool) -> Chunk:
            nonlocal parsed, reported
            skipped = np.fromiter((m[0] for m in malformed), np.int64, len(malformed))
            rows = _original_rows(parsed, n, skipped)
            upto = len(malformed) if last or n == 0 else int(np.searchsorted(skipped, rows[-1]))
            mine = malformed[reported:upto]
            reported = upto
            table = pa.Table.from_batches(batches, schema=reader.schema)
            chunk = Chunk(table, parsed + 1, rows, mine)
            parsed += n
            return chunk

        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise _unreadable(exc) from None
            if on_progress is not None:
                on_progress(stream.tell())
            while batch.num_rows:
                take = min(batch.num_rows, chunk_rows - pending_rows)
                pending.append(batch.slice(0, take))
                pending_rows += take
                batch = batch.slice(take)
                if pending_rows == chunk_rows:
                    yield emit(pending, pending_rows, last=False)
                    pending, pending_rows = [], 0
        yield emit(pending, pending_rows, last=True)
    except pa.ArrowInvalid as exc:  # from opening: the first block
        raise _unreadable(exc) from None
    finally:
        stream.close()


def _header_problem(path: Path) -> str | None:
    try:
        read_header(path)
    except Unparseable as exc:
        return str(exc)
    return None


def _unreadable(exc: Exception) -> Unparseable:
    msg = str(exc).splitlines()[0]
    if "UTF8" in msg or "UTF-8" in msg:
        return Unparseable(f"not UTF-8 text: {msg}")
    return Unparseable(f"not a readable CSV: {msg}")


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(4 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


# -- one file: validate, score, stage -------------------------------------------------------


@dataclass
class Staged:
    """Outbox files of one input, written to staging, not yet published."""

    scored: Path
    rejected: Path | None
    rows_scored: int
    rows_rejected: int


def _constant(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def score_file(
    path: Path,
    *,
    scorer: FraudScorer,
    model_name: str,
    model_version: str,
    staging: Path,
    chunk_rows: int,
    on_progress: Callable[[int], None] | None = None,
) -> Staged:
    """Validate and score every row of a CSV file into staged scored/rejected CSV files.

    Raises:
        Unparseable: the file is not a CSV of transactions (nothing is staged).
    """
    from fraudops.scoring import scored_table
    from fraudops.validation import validate_batch

    names = read_header(path)
    token = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    scored_path = staging / f"{token}.scored.csv"
    rejected_path = staging / f"{token}.rejected.csv"
    ids: list[pa.Array] = []  # every row's transaction_id: uniqueness is per file
    id_rows: list[np.ndarray] = []
    valid_rows: list[np.ndarray] = []
    rows_scored = rows_rejected = 0
    rejected_writer: pacsv.CSVWriter | None = None
    try:
        with pacsv.CSVWriter(scored_path, SCORED_CSV_SCHEMA, write_options=_WRITE) as out:
            for chunk in read_chunks(path, names, chunk_rows=chunk_rows, on_progress=on_progress):
                result = validate_batch(chunk.table, first_row=chunk.first, unique_ids=False)
                rejected, good_rows = result.rejected, result.valid_rows
                n = len(chunk.rows)
                if n and chunk.rows[-1] != chunk.first + n - 1:  # malformed rows came before
                    good_rows = chunk.rows[good_rows - chunk.first]
                    renumbered = chunk.rows[rejected["row"].to_numpy() - chunk.first]
                    rejected = rejected.set_column(0, "row", pa.array(renumbered, pa.int64()))
                if chunk.malformed:
                    rejected = pa.concat_tables([rejected, _malformed_table(chunk.malformed)])
                    rejected = rejected.sort_by([("row", "ascending")])
                if rejected.num_rows:
                    if rejected_writer is None:
                        rejected_writer = pacsv.CSVWriter(
                            rejected_path, REJECTED_SCHEMA, write_options=_WRITE
                        )
                    rejected_writer.write_table(rejected)
                    rows_rejected += len(pc.unique(rejected["row"]))
                n = result.valid.num_rows
                if n:
                    scored = scored_table(scorer, result.valid)
                    out.write_table(
                        pa.Table.from_arrays(
                            [
                                *scored.columns,
                                _constant(model_name, n),
                                _constant(model_version, n),
                            ],
                            schema=SCORED_CSV_SCHEMA,
                        )
                    )
                rows_scored += n
                ids.append(chunk.table["transaction_id"].combine_chunks())
                id_rows.append(chunk.rows)
                valid_rows.append(good_rows)
    finally:
        if rejected_writer is not None:
            rejected_writer.close()
    staged = Staged(
        scored_path, rejected_path if rejected_writer else None, rows_scored, rows_rejected
    )
    return _drop_duplicate_ids(staged, ids, id_rows, valid_rows)


def _malformed_table(malformed: list[tuple[int, str, int, int]]) -> pa.Table:
    return pa.table(
        {
            "row": pa.array([m[0] for m in malformed], pa.int64()),
            "column": pa.array(["*"] * len(malformed), pa.string()),
            "value": pa.array([m[1] for m in malformed], pa.string()),
            "reason": pa.array(
                [f"expected {m[2]} fields, found {m[3]}" for m in malformed], pa.string()
            ),
        },
        schema=REJECTED_SCHEMA,
    )


def _drop_duplicate_ids(
    staged: Staged, ids: list[pa.Array], id_rows: list[np.ndarray], valid_rows: list[np.ndarray]
) -> Staged:
    """Reject every repeat of a transaction_id in the file (the first occurrence is kept).

    Chunks are validated independently, so this is checked once over the whole file; the
    staged files are rewritten only in the rare case that repeats exist.
    """
    all_ids = pa.chunked_array(ids, pa.string())
    if all_ids.null_count == 0 and pc.count_distinct(all_ids).as_py() == len(all_ids):
        return staged
    text = all_ids.combine_chunks()
    rows = np.concatenate(id_rows) if id_rows else np.zeros(0, np.int64)
    # dictionary codes number distinct ids in order of first appearance
    codes = pc.dictionary_encode(pc.fill_null(text, "")).indices.to_numpy(zero_copy_only=False)
    _, first_idx = np.unique(codes, return_index=True)
    first_of = first_idx[codes]
    length = pc.utf8_length(text).to_numpy(zero_copy_only=False)
    trimmed = pc.utf8_length(pc.utf8_trim_whitespace(text)).to_numpy(zero_copy_only=False)
    repeat = (first_of != np.arange(len(codes))) & (trimmed > 0) & (length <= 64)
    if not repeat.any():
        return staged
    dup_rows = rows[repeat]
    dups = pa.table(
        {
            "row": pa.array(dup_rows),
            "column": _constant("transaction_id", len(dup_rows)),
            "value": pc.take(text, pa.array(np.flatnonzero(repeat))),
            "reason": pa.array(
                [
                    f"duplicate transaction_id in this file (first in row {r})"
                    for r in rows[first_of[repeat]]
                ],
                pa.string(),
            ),
        },
        schema=REJECTED_SCHEMA,
    )
    scored_rows = np.concatenate(valid_rows) if valid_rows else np.zeros(0, np.int64)
    drop = np.isin(scored_rows, dup_rows)
    if drop.any():
        kept = pacsv.read_csv(
            staged.scored,
            convert_options=pacsv.ConvertOptions(
                column_types=SCORED_CSV_SCHEMA, strings_can_be_null=False
            ),
        ).filter(pa.array(~drop))
        pacsv.write_csv(kept, staged.scored, write_options=_WRITE)
    rejected_path = staged.rejected or staged.scored.with_name(
        staged.scored.name.replace(".scored.", ".rejected.")
    )
    earlier = (
        pacsv.read_csv(
            rejected_path,
            convert_options=pacsv.ConvertOptions(
                column_types=REJECTED_SCHEMA, strings_can_be_null=False
            ),
        )
        if staged.rejected
        else REJECTED_SCHEMA.empty_table()
    )
    merged = pa.concat_tables([earlier, dups]).sort_by([("row", "ascending")])
    pacsv.write_csv(merged, rejected_path, write_options=_WRITE)
    newly = int(drop.sum())
    return Staged(
        staged.scored, rejected_path, staged.rows_scored - newly, staged.rows_rejected + newly
    )


def scores_batches(
    path: Path, *, source_file: str, content_hash: str, scored_at: dt.datetime, chunk_rows: int
) -> Iterator[pa.Table]:
    """Rows for ``fraud.scores``, read back from a published scored CSV (lake == outbox)."""
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE),
        convert_options=pacsv.ConvertOptions(
            column_types=SCORED_CSV_SCHEMA, strings_can_be_null=False
        ),
    )
    pending: list[pa.RecordBatch] = []
    pending_rows = 0

    def build(batches: list[pa.RecordBatch]) -> pa.Table:
        table = pa.Table.from_batches(batches, schema=reader.schema)
        n = table.num_rows
        return (
            table.append_column("source_file", _constant(source_file, n))
            .append_column("content_hash", _constant(content_hash, n))
            .append_column(
                "scored_at", pa.repeat(pa.scalar(scored_at, pa.timestamp("us", tz="UTC")), n)
            )
        )

    for batch in reader:
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows >= chunk_rows:
            yield build(pending)
            pending, pending_rows = [], 0
    if pending:
        yield build(pending)


# -- the run --------------------------------------------------------------------------------


@dataclass
class Claim:
    """A file in flight: what has been decided and done for it (``ledger/claims/<name>``)."""

    name: str
    source: str  # identity of the incoming object that was claimed
    claimed_at: str
    state: str = "claimed"
    content_hash: str | None = None
    out: str | None = None  # stem of every output of this file
    model_name: str | None = None
    model_version: str | None = None
    scored_at: str | None = None
    rows_scored: int = 0
    rows_rejected: int = 0
    rejected_file: bool = False
    snapshot_id: int | None = None
    reason: str | None = None

    @property
    def key(self) -> str:
        """Where the claim record lives."""
        return f"{CLAIMS}/{self.name}.json"


@dataclass
class FileReport:
    """What happened to one file in a run."""

    file: str
    status: str  # scored | quarantined | duplicate | missing
    rows_scored: int = 0
    rows_rejected: int = 0
    content_hash: str | None = None
    model_version: str | None = None
    snapshot_id: int | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    reason: str | None = None


@dataclass
class InboxSummary:
    """The outcome of one ``score_inbox`` run."""

    inbox: str
    files: int  # files handled: scored, quarantined or duplicates
    rows_scored: int
    rows_rejected: int
    files_quarantined: int
    duplicates: int
    seconds: float
    outbox: str
    reports: list[FileReport] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class InboxProgress:
    """Progress of the file being worked on."""

    file: str
    index: int  # 1-based position among the files of this run
    files: int
    done_bytes: int
    total_bytes: int
    status: str  # "reading" while it is scored, then the file's outcome


ProgressFn = Callable[[InboxProgress], None]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _stem(name: str) -> str:
    return name[:-4] if name.lower().endswith(".csv") else name


class _Run:
    """One pass over an inbox, holding its lock."""

    def __init__(
        self, settings: Settings, store: Storage, lock: InboxLock, progress: ProgressFn | None
    ) -> None:
        self.settings = settings
        self.store = store
        self.lock = lock
        self.progress = progress
        self.reports: list[FileReport] = []
        self.scorers: dict[str, FraudScorer] = {}
        self.production: str | None = None
        self._table: Table | None = None
        self.index = 0
        self.total = 0

    # ledger -------------------------------------------------------------------------------
    def save(self, claim: Claim) -> None:
        self.store.write_json(claim.key, asdict(claim))

    def claims_in_flight(self) -> list[Claim]:
        """Claim records a previous run left (in name order)."""
        claims = []
        for entry in sorted(self.store.list(CLAIMS), key=lambda e: e.name):
            if entry.kind != "file" or entry.name.startswith(".") or "/" in entry.name:
                continue  # a temporary file of an interrupted write
            record = self.store.read_json(f"{CLAIMS}/{entry.name}")
            if isinstance(record, dict):
                claims.append(Claim(**record))
        return claims

    def content(self, digest: str) -> dict[str, Any] | None:
        record: dict[str, Any] | None = self.store.read_json(f"{CONTENT}/{digest}.json")
        return record

    # model and lake -----------------------------------------------------------------------
    def scorer(self, version: str | None) -> tuple[FraudScorer, str]:
        """The pinned version's scorer, or production's when nothing is pinned yet."""
        from fraudops import registry

        if version is None:
            if self.production is None:
                scorer, self.production = registry.load_production_scorer(self.settings)
                self.scorers[self.production] = scorer
            version = self.production
        if version not in self.scorers:
            self.scorers[version] = registry.load_scorer(self.settings, version)
        return self.scorers[version], version

    @property
    def table(self) -> Table:
        from fraudops import lake

        if self._table is None:
            self._table = lake.scores_table(lake.open_catalog(self.settings))
        return self._table

    # progress -----------------------------------------------------------------------------
    def tell(self, name: str, status: str, done: int = 0, total: int = 0) -> None:
        if self.progress is not None:
            self.progress(InboxProgress(name, self.index, self.total, done, total, status))

    def report(self, claim: Claim, status: str) -> FileReport:
        out = claim.out or ""
        outputs: dict[str, str] = {}
        if status == "scored":
            outputs["scored"] = self.store.location(f"{OUTBOX}/{out}.scored.csv")
            if claim.rejected_file:
                outputs["rejected"] = self.store.location(f"{OUTBOX}/{out}.rejected.csv")
            outputs["input"] = self.store.location(f"{PROCESSED}/{out}.csv")
        elif status == "quarantined":
            outputs["error"] = self.store.location(f"{QUARANTINE}/{out}.error.json")
            outputs["input"] = self.store.location(f"{QUARANTINE}/{out}.csv")
        elif status == "duplicate":
            outputs["note"] = self.store.location(f"{OUTBOX}/{out}.duplicate.json")
            outputs["input"] = self.store.location(f"{PROCESSED}/{out}.csv")
        rep = FileReport(
            file=claim.name,
            status=status,
            rows_scored=claim.rows_scored if status == "scored" else 0,
            rows_rejected=claim.rows_rejected if status == "scored" else 0,
            content_hash=claim.content_hash,
            model_version=claim.model_version,
            snapshot_id=claim.snapshot_id,
            outputs=outputs,
            reason=claim.reason,
        )
        self.reports.append(rep)
        self.tell(claim.name, status)
        return rep

    # steps --------------------------------------------------------------------------------
    def out_name(self, name: str, digest: str) -> str:
        """The stem of the outputs: the file's own, unless an earlier file already used it."""
        stem = _stem(name)
        taken = (
            f"{PROCESSED}/{stem}.csv",
            f"{OUTBOX}/{stem}.scored.csv",
            f"{OUTBOX}/{stem}.duplicate.json",
            f"{QUARANTINE}/{stem}.csv",
        )
        if any(self.store.exists(key) for key in taken):
            return f"{stem}.{digest[:12]}"
        return stem

    def quarantine_unsafe(self, entry: Entry, reason: str) -> None:
        """Move an entry we must not read to quarantine under a made-up safe name."""
        safe = _quarantine_name(entry.name)
        self.store.write_json(
            f"{QUARANTINE}/{safe}.error.json",
            {"file": entry.name, "reason": reason, "quarantined_at": _now(), "size": entry.size},
        )
        self.store.move(f"{INCOMING}/{entry.name}", f"{QUARANTINE}/{safe}")
        self.reports.append(
            FileReport(
                file=entry.name,
                status="quarantined",
                outputs={
                    "error": self.store.location(f"{QUARANTINE}/{safe}.error.json"),
                    "input": self.store.location(f"{QUARANTINE}/{safe}"),
                },
                reason=reason,
            )
        )
        self.tell(entry.name, "quarantined")

    def take(self, entry: Entry) -> None:
        """Claim a new file (record first, then move) and work on it."""
        claim = Claim(name=entry.name, source=entry.identity, claimed_at=_now())
        self.save(claim)
        self.store.move(f"{INCOMING}/{entry.name}", f"{CLAIMED}/{entry.name}")
        self.work(claim)

    def resume(self, claim: Claim) -> None:
        """Finish a file a previous run left in flight."""
        src, inc = f"{CLAIMED}/{claim.name}", f"{INCOMING}/{claim.name}"
        left = self.store.stat(inc)
        if left is not None and left.identity == claim.source:  # the claim move was cut short
            if self.store.exists(src):
                self.store.delete(inc)  # the copy in claimed/ is this same object
            else:
                self.store.move(inc, src)
        if self.store.exists(src):
            self.work(claim)
            return
        done = {
            "committed": f"{PROCESSED}/{claim.out}.csv",
            "duplicate": f"{PROCESSED}/{claim.out}.csv",
            "quarantined": f"{QUARANTINE}/{claim.out}.csv",
        }.get(claim.state)
        if done and self.store.exists(done):  # cut after the final move
            self.finish(claim)
            return
        claim.reason = "the claimed input disappeared before it was scored"
        self.store.delete(claim.key)
        self.report(claim, "missing")

    def work(self, claim: Claim) -> None:
        """Drive one claimed file to its end state; each step is safe to repeat."""
        src = f"{CLAIMED}/{claim.name}"
        if claim.state == "claimed":
            local = self.store.fetch(src)
            digest = file_hash(local)
            claim.content_hash = digest
            claim.out = self.out_name(claim.name, digest)
            prior = self.content(digest)
            if prior is not None and prior.get("status") == "scored":
                claim.state = "duplicate"
                claim.reason = f"same content as {prior['name']}, already scored"
            elif problem := _header_problem(local):
                claim.state, claim.reason = "quarantined", problem
            else:
                _, version = self.scorer(None)
                claim.model_name = self.settings.model_name
                claim.model_version = version
                claim.scored_at = _now()
                claim.state = "scoring"
            self.save(claim)
        assert claim.content_hash is not None
        assert claim.out is not None
        if claim.state == "duplicate":
            prior = self.content(claim.content_hash) or {}
            self.store.write_json(
                f"{OUTBOX}/{claim.out}.duplicate.json",
                {
                    "file": claim.name,
                    "duplicate_of": prior.get("name"),
                    "scored": self.store.location(f"{OUTBOX}/{prior.get('out')}.scored.csv"),
                    "content_hash": claim.content_hash,
                    "detected_at": _now(),
                },
            )
            self.store.move(src, f"{PROCESSED}/{claim.out}.csv")
            self.finish(claim)
            return
        if claim.state == "scoring":
            self.score(claim, src)
        if claim.state == "quarantined":
            self.store.write_json(
                f"{QUARANTINE}/{claim.out}.error.json",
                {
                    "file": claim.name,
                    "reason": claim.reason,
                    "content_hash": claim.content_hash,
                    "quarantined_at": _now(),
                },
            )
            self.store.move(src, f"{QUARANTINE}/{claim.out}.csv")
            self.finish(claim)
            return
        if claim.state == "published":
            claim.snapshot_id = self.commit(claim)
            claim.state = "committed"
            self.save(claim)
        if claim.state == "committed":
            self.store.move(src, f"{PROCESSED}/{claim.out}.csv")
            self.finish(claim)

    def score(self, claim: Claim, src: str) -> None:
        """Score into staging, publish the outbox files, record ``published``."""
        assert claim.out is not None
        assert claim.model_version is not None
        scorer, _ = self.scorer(claim.model_version)
        local = self.store.fetch(src)
        total = local.stat().st_size

        def on_progress(done: int) -> None:
            self.lock.refresh()
            self.tell(claim.name, "reading", done, total)

        try:
            staged = score_file(
                local,
                scorer=scorer,
                model_name=claim.model_name or self.settings.model_name,
                model_version=claim.model_version,
                staging=self.store.staging,
                chunk_rows=self.settings.inbox_chunk_rows,
                on_progress=on_progress,
            )
        except Unparseable as exc:
            claim.state, claim.reason = "quarantined", str(exc)
            claim.model_name = claim.model_version = claim.scored_at = None
            self.save(claim)
            return
        self.store.publish(staged.scored, f"{OUTBOX}/{claim.out}.scored.csv")
        if staged.rejected is not None:
            self.store.publish(staged.rejected, f"{OUTBOX}/{claim.out}.rejected.csv")
        claim.rows_scored, claim.rows_rejected = staged.rows_scored, staged.rows_rejected
        claim.rejected_file = staged.rejected is not None
        claim.state = "published"
        self.save(claim)

    def commit(self, claim: Claim) -> int | None:
        """Append the file's scores to ``fraud.scores`` unless a snapshot already has them."""
        from fraudops import lake

        assert claim.content_hash is not None
        assert claim.scored_at is not None
        if claim.rows_scored == 0:
            return None
        done = lake.committed_snapshot(self.table, claim.content_hash)
        if done is not None:
            return done
        batches = scores_batches(
            self.store.fetch(f"{OUTBOX}/{claim.out}.scored.csv"),
            source_file=claim.name,
            content_hash=claim.content_hash,
            scored_at=dt.datetime.fromisoformat(claim.scored_at),
            chunk_rows=self.settings.inbox_chunk_rows,
        )
        return lake.append_scores(
            self.table,
            batches,
            content_hash=claim.content_hash,
            properties={
                "fraudops.source_file": claim.name,
                "fraudops.model_version": str(claim.model_version),
                "fraudops.rows": str(claim.rows_scored),
            },
        )

    def finish(self, claim: Claim) -> None:
        """Record the outcome by content, drop the claim record, report."""
        status = {"committed": "scored"}.get(claim.state, claim.state)
        if status in ("scored", "quarantined"):
            assert claim.content_hash is not None
            self.store.write_json(
                f"{CONTENT}/{claim.content_hash}.json",
                {
                    "content_hash": claim.content_hash,
                    "status": status,
                    "name": claim.name,
                    "out": claim.out,
                    "model_name": claim.model_name,
                    "model_version": claim.model_version,
                    "snapshot_id": claim.snapshot_id,
                    "rows_scored": claim.rows_scored,
                    "rows_rejected": claim.rows_rejected,
                    "reason": claim.reason,
                    "finished_at": _now(),
                },
            )
        self.store.delete(claim.key)
        self.report(claim, status)


def score_inbox(settings: Settings, *, progress: ProgressFn | None = None) -> InboxSummary:
    """Score every new CSV in the inbox once; finish what a killed run left half done."""
    t0 = time.perf_counter()
    store = open_storage(settings)
    try:
        store.ensure()
        with store.lock(lease_seconds=settings.inbox_lock_seconds) as lock:
            run = _Run(settings, store, lock, progress)
            claims = run.claims_in_flight()
            run.total = len(claims)
            for claim in claims:  # first what a killed run left in flight
                run.index += 1
                lock.refresh()
                run.resume(claim)
            entries = sorted(store.list(INCOMING), key=lambda e: e.name)
            plan = [(e, classify(e)) for e in entries]
            run.total += sum(1 for _, verdict in plan if verdict is not None)
            for entry, verdict in plan:
                if verdict is None:
                    continue
                run.index += 1
                lock.refresh()
                if verdict == "take":
                    run.take(entry)
                else:
                    run.quarantine_unsafe(entry, verdict)
    finally:
        store.close()
    reports = run.reports
    return InboxSummary(
        inbox=store.url,
        files=sum(1 for r in reports if r.status in ("scored", "quarantined", "duplicate")),
        rows_scored=sum(r.rows_scored for r in reports),
        rows_rejected=sum(r.rows_rejected for r in reports),
        files_quarantined=sum(1 for r in reports if r.status == "quarantined"),
        duplicates=sum(1 for r in reports if r.status == "duplicate"),
        seconds=round(time.perf_counter() - t0, 3),
        outbox=store.location(OUTBOX),
        reports=reports,
    )


# -- helpers for people and demos -----------------------------------------------------------


def drop_file(settings: Settings, name: str, data: bytes) -> str:
    """Put a file into ``incoming/`` in one atomic step; returns where it is."""
    problem = unsafe_name(name)
    if problem or not name.lower().endswith(".csv"):
        raise ValueError(f"not a plain *.csv name: {name!r}")
    store = open_storage(settings)
    try:
        store.ensure()
        store.write_bytes(f"{INCOMING}/{name}", data)
        return store.location(f"{INCOMING}/{name}")
    finally:
        store.close()


def sample_csv(
    *, rows: int = 1_000, day: dt.date = dt.date(2026, 3, 1), seed: int = 7, bad_rows: bool = True
) -> bytes:
    """A CSV of generated transactions, by default with a few bad rows to show validation.

    Rows 3..9 then carry one problem each: NaN, a negative amount, an unknown category, a bad
    timestamp, a missing field, an extra field, an infinite balance.
    """
    from fraudops import datagen

    table = datagen.generate_day(day, rows=rows, seed=seed).drop_columns(["is_fraud"])
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, write_options=_WRITE)
    lines = sink.getvalue().decode().splitlines()
    col = {name: i for i, name in enumerate(next(csv.reader([lines[0]])))}

    def edit(row: int, column: str, value: str) -> None:
        fields = next(csv.reader([lines[row]]))
        fields[col[column]] = value
        lines[row] = ",".join(fields)

    if bad_rows and rows >= 10:
        edit(3, "transaction_amount", "NaN")
        edit(4, "transaction_amount", "-12.50")
        edit(5, "merchant_category", "casino")
        edit(6, "event_ts", "yesterday")
        lines[7] = lines[7].rsplit(",", 1)[0]  # a missing field
        lines[8] = lines[8] + ",surplus"  # an extra field
        edit(9, "credit_card_balance", "inf")
    return ("\n".join(lines) + "\n").encode()
