"""An inbox under test (a local folder, or a bucket of moto's S3 server), the CSV files dropped
in it, ``fraudops score-inbox`` runs as subprocesses, and the count of what came out.

The count reads the results as a person would: every ``outbox/*.scored.csv`` and every row of
``fraud.scores`` (read with pyiceberg directly), compared with the transaction ids of the
files that were dropped. Nothing the runs report about themselves is used.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from chaos._world import World, fraudops_bin
from fraudops.procs import start_group


@dataclass(frozen=True)
class Dropped:
    """A file dropped in the inbox, and the transaction ids it holds."""

    name: str
    data: bytes
    ids: tuple[str, ...]


def make_file(name: str, *, rows: int, seed: int) -> Dropped:
    """A CSV of valid transactions whose ids exist nowhere else (``<name>-<row>``)."""
    from fraudops import datagen
    from fraudops.csvio import to_csv_bytes

    day = dt.date(2026, 3, 1) + dt.timedelta(days=seed % 28)
    table = datagen.generate_day(day, rows=rows, seed=seed).drop_columns(["is_fraud"])
    stem = name.removesuffix(".csv")
    ids = tuple(f"{stem}-{i:07d}" for i in range(rows))
    table = table.set_column(0, "transaction_id", pa.array(ids))
    return Dropped(name, to_csv_bytes(table), ids)


@dataclass
class Counts:
    """Lost, duplicated and errors over the outbox and the lake."""

    rows: int
    lost: int
    duplicated: int
    errors: int
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The problems, for the notes."""
        return "; ".join(self.problems) or "none"


class Inbox:
    """An inbox and its lake (``fraud.scores``), with the settings its runs get."""

    def __init__(
        self,
        world: World,
        work: Path,
        *,
        backend: str,
        s3: dict[str, str] | None = None,
        catalog_uri: str | None = None,
        **settings: object,
    ) -> None:
        self.world, self.work, self.backend = world, work, backend
        self.s3 = s3
        self.bucket = f"inbox-{work.name}".replace("_", "-")[:60]
        fields: dict[str, object] = {
            "catalog_uri": catalog_uri or f"sqlite:///{work / 'catalog.db'}",
            "warehouse": (work / "warehouse").as_uri(),
            "inbox": str(work / "inbox"),
            "inbox_chunk_rows": 5_000,
            "home": work / "home",
        }
        if backend == "s3":
            assert s3 is not None
            self.client().create_bucket(Bucket=self.bucket)
            fields.update(
                inbox=f"s3://{self.bucket}/inbox",
                warehouse=f"s3://{self.bucket}/warehouse",
                s3_endpoint=s3["endpoint"],
                s3_access_key=s3["access_key"],
                s3_secret_key=s3["secret_key"],
                s3_region=s3["region"],
            )
        self.fields = {**fields, **settings}
        self.runs = 0

    # -- the files, as people and tools see them ---------------------------------------------
    def client(self, endpoint: str | None = None) -> Any:
        """A boto3 client straight to moto (never through a fault-injecting proxy)."""
        import boto3

        assert self.s3 is not None
        return boto3.client(
            "s3",
            endpoint_url=endpoint or self.s3["endpoint"],
            aws_access_key_id=self.s3["access_key"],
            aws_secret_access_key=self.s3["secret_key"],
            region_name=self.s3["region"],
        )

    def drop(self, file: Dropped) -> None:
        """Drop a file as a person would: a hidden name renamed into place, or one PUT."""
        if self.backend == "s3":
            key = f"inbox/incoming/{file.name}"
            self.client().put_object(Bucket=self.bucket, Key=key, Body=file.data)
            return
        incoming = self.work / "inbox" / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        part = incoming / f".{file.name}.part"
        part.write_bytes(file.data)
        os.replace(part, incoming / file.name)

    def names(self, folder: str) -> list[str]:
        """Names directly or anywhere below ``folder`` of the inbox."""
        if self.backend == "s3":
            prefix = f"inbox/{folder}/"
            pages = (
                self.client()
                .get_paginator("list_objects_v2")
                .paginate(Bucket=self.bucket, Prefix=prefix)
            )
            return sorted(o["Key"][len(prefix) :] for p in pages for o in p.get("Contents", []))
        path = self.work / "inbox" / folder
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []

    def read(self, key: str) -> bytes | None:
        """An object of the inbox, or None."""
        if self.backend == "s3":
            try:
                got = self.client().get_object(Bucket=self.bucket, Key=f"inbox/{key}")
            except Exception:  # noqa: BLE001  (absent)
                return None
            data: bytes = got["Body"].read()
            return data
        path = self.work / "inbox" / key
        return path.read_bytes() if path.is_file() else None

    def lock_epoch(self) -> int:
        """How many runs have taken the inbox lock so far (its fencing epoch)."""
        if self.backend == "s3":
            raw = self.read(".lock")
            return int(json.loads(raw)["epoch"]) if raw else 0
        raw = self.read(".lock-epoch")
        return int(raw.decode().strip() or 0) if raw else 0

    def scores(self, *, snapshots: list[dict[str, Any]] | None = None) -> pa.Table:
        """Every row of ``fraud.scores`` (empty before the first commit); its snapshots too."""
        from pyiceberg.catalog.sql import SqlCatalog
        from pyiceberg.exceptions import NoSuchTableError

        direct = {"s3_endpoint": self.s3["endpoint"]} if self.s3 else {}
        settings = self.world.settings(**{**self.fields, **direct})
        catalog = SqlCatalog(
            "fraudops",
            uri=settings.catalog_url,
            warehouse=settings.warehouse_url,
            **settings.s3_options,
        )
        try:
            table = catalog.load_table("fraud.scores")
        except NoSuchTableError:
            return pa.table({"transaction_id": pa.array([], pa.string())})
        finally:
            catalog.engine.dispose()
        if snapshots is not None:
            for snap in table.snapshots():
                summary = dict(snap.summary.additional_properties) if snap.summary else {}
                snapshots.append(
                    {"id": snap.snapshot_id, "parent": snap.parent_snapshot_id, **summary}
                )
        return table.scan().to_arrow()

    def scored_ids(self) -> Counter[str]:
        """Transaction ids in every scored file of the outbox."""
        found: Counter[str] = Counter()
        for name in self.names("outbox"):
            if name.endswith(".scored.csv"):
                data = self.read(f"outbox/{name}")
                assert data is not None
                table = pacsv.read_csv(
                    io.BytesIO(data),
                    convert_options=pacsv.ConvertOptions(
                        column_types={"transaction_id": pa.string()}
                    ),
                )
                found.update(table["transaction_id"].to_pylist())
        return found

    # -- runs -----------------------------------------------------------------------------------
    def env(self, **overrides: object) -> dict[str, str]:
        """The environment of a ``fraudops score-inbox`` run."""
        return self.world.env(**{**self.fields, **overrides})

    def start(self, **overrides: object) -> subprocess.Popen[bytes]:
        """Start ``fraudops score-inbox`` (its output goes to a log in the work folder)."""
        self.runs += 1
        log = self.work / f"score-inbox-{self.runs}.log"
        argv = [fraudops_bin(), "score-inbox", "--json"]
        return start_group(argv, env=self.env(**overrides), log=log, cwd=self.work)

    def run(self, **overrides: object) -> int:
        """One whole run; its exit code."""
        return self.start(**overrides).wait(timeout=300)

    def last_report(self) -> dict[str, Any]:
        """What the last run told its user (its ``--json`` summary)."""
        text = (self.work / f"score-inbox-{self.runs}.log").read_text()
        report: dict[str, Any] = json.loads(text[text.index("{") :])
        return report

    # -- the count ----------------------------------------------------------------------------
    def count(self, files: list[Dropped]) -> Counts:
        """What the outbox and the lake hold, against what was dropped.

        A file whose bytes were dropped before counts once (a duplicate is not scored again,
        and gets a duplicate note; no other file may). Every input must have reached
        ``processed/``, nothing may be left in flight, and nothing quarantined (every file
        here is a valid CSV).
        """
        expected: set[str] = set()
        contents: set[bytes] = set()
        twins = set()
        for f in files:
            if f.data in contents:
                twins.add(f.name.removesuffix(".csv"))
            else:
                expected.update(f.ids)
                contents.add(f.data)
        outbox = self.scored_ids()
        snapshots: list[dict[str, Any]] = []
        lake = Counter(self.scores(snapshots=snapshots)["transaction_id"].to_pylist())
        evidence: dict[str, Any] = {f: self.names(f) for f in ("outbox", "processed", "ledger")}
        evidence["claims"] = [
            json.loads(self.read(f"ledger/claims/{n}") or b"null")
            for n in self.names("ledger/claims")
        ]
        evidence["fraud.scores snapshots"] = snapshots
        (self.work / "evidence.json").write_text(json.dumps(evidence, indent=2, default=str))
        problems = []
        lost = {i for i in expected if not outbox[i] or not lake[i]}
        if lost:
            problems.append(
                f"{sum(1 for i in expected if not outbox[i])} rows missing from the outbox, "
                f"{sum(1 for i in expected if not lake[i])} from fraud.scores"
            )
        twice_out = sum(n - 1 for n in outbox.values() if n > 1)
        twice_lake = sum(n - 1 for n in lake.values() if n > 1)
        duplicated = twice_out + twice_lake
        if twice_out:
            scored = [n for n in self.names("outbox") if n.endswith(".scored.csv")]
            problems.append(f"{twice_out} extra copies in the outbox ({scored})")
        if twice_lake:
            problems.append(f"{twice_lake} extra copies in fraud.scores")
        errors = 0
        strangers = (set(outbox) | set(lake)) - expected
        if strangers:
            errors += 1
            problems.append(f"{len(strangers)} rows nobody dropped")
        notes = {n.split(".")[0] for n in self.names("outbox") if n.endswith(".duplicate.json")}
        if notes != twins:
            errors += 1
            problems.append(f"duplicate notes for {sorted(notes)}, twins dropped {sorted(twins)}")
        processed = set(self.names("processed"))
        for f in files:
            if f.name not in processed:
                errors += 1
                problems.append(f"{f.name} not in processed/")
        for folder in ("incoming", "claimed", "ledger/claims", "quarantine"):
            left = [n for n in self.names(folder) if not n.startswith(".")]
            if left:
                errors += len(left)
                problems.append(f"left in {folder}/: {left}")
        return Counts(len(expected), len(lost), duplicated, errors, problems)
