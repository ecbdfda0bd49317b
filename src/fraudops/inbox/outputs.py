"""What a file leaves in the inbox: output names, duplicate notes, error reports, its report."""

from __future__ import annotations

from fraudops.inbox.ledger import Claim, ContentRecord, Outcome, now
from fraudops.inbox.names import INCOMING, OUTBOX, PROCESSED, QUARANTINE, quarantine_name, stem
from fraudops.inbox.report import FileReport
from fraudops.inbox.storage import Entry, Storage


def out_name(store: Storage, name: str, digest: str) -> str:
    """The stem of a file's outputs: its own, unless an earlier file already used it."""
    base = stem(name)
    taken = (
        f"{PROCESSED}/{base}.csv",
        f"{OUTBOX}/{base}.scored.csv",
        f"{OUTBOX}/{base}.duplicate.json",
        f"{QUARANTINE}/{base}.csv",
    )
    if any(store.exists(key) for key in taken):
        return f"{base}.{digest[:12]}"
    return base


def write_duplicate_note(store: Storage, claim: Claim, prior: ContentRecord | None) -> None:
    """``outbox/<out>.duplicate.json``: which earlier file had the same bytes."""
    store.write_json(
        f"{OUTBOX}/{claim.out}.duplicate.json",
        {
            "file": claim.name,
            "duplicate_of": prior.name if prior else None,
            "scored": store.location(f"{OUTBOX}/{prior.out if prior else None}.scored.csv"),
            "content_hash": claim.content_hash,
            "detected_at": now(),
        },
    )


def write_error_report(store: Storage, claim: Claim) -> None:
    """``quarantine/<out>.error.json``: why the file could not be scored."""
    store.write_json(
        f"{QUARANTINE}/{claim.out}.error.json",
        {
            "file": claim.name,
            "reason": claim.reason,
            "content_hash": claim.content_hash,
            "quarantined_at": now(),
        },
    )


def quarantine_unsafe(store: Storage, entry: Entry, reason: str) -> FileReport:
    """Move an entry we must not read to quarantine under a made-up safe name."""
    safe = quarantine_name(entry.name)
    store.write_json(
        f"{QUARANTINE}/{safe}.error.json",
        {"file": entry.name, "reason": reason, "quarantined_at": now(), "size": entry.size},
    )
    store.move(f"{INCOMING}/{entry.name}", f"{QUARANTINE}/{safe}")
    outputs = {
        "error": store.location(f"{QUARANTINE}/{safe}.error.json"),
        "input": store.location(f"{QUARANTINE}/{safe}"),
    }
    return FileReport(entry.name, Outcome.QUARANTINED, outputs=outputs, reason=reason)


def claim_report(store: Storage, claim: Claim, status: Outcome) -> FileReport:
    """The report of a claimed file: its outcome, counts and where its outputs are."""
    out = claim.out or ""
    outputs: dict[str, str] = {}
    where = store.location
    if status == Outcome.SCORED:
        outputs["scored"] = where(f"{OUTBOX}/{out}.scored.csv")
        if claim.rejected_file:
            outputs["rejected"] = where(f"{OUTBOX}/{out}.rejected.csv")
        outputs["input"] = where(f"{PROCESSED}/{out}.csv")
    elif status == Outcome.QUARANTINED:
        outputs["error"] = where(f"{QUARANTINE}/{out}.error.json")
        outputs["input"] = where(f"{QUARANTINE}/{out}.csv")
    elif status == Outcome.DUPLICATE:
        outputs["note"] = where(f"{OUTBOX}/{out}.duplicate.json")
        outputs["input"] = where(f"{PROCESSED}/{out}.csv")
    scored = status == Outcome.SCORED
    return FileReport(
        file=claim.name,
        status=status,
        rows_scored=claim.rows_scored if scored else 0,
        rows_rejected=claim.rows_rejected if scored else 0,
        content_hash=claim.content_hash,
        model_version=claim.model_version,
        snapshot_id=claim.snapshot_id,
        outputs=outputs,
        reason=claim.reason,
    )
