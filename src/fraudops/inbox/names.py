"""The inbox's folders and the names of the files in them: which to take, which to refuse.

Layout of an inbox (a local folder or an ``s3://bucket/prefix``)::

    incoming/     people drop *.csv files here
    claimed/      files being worked on (a killed run leaves them; the next run resumes them)
    processed/    inputs that were scored, or were duplicates of scored content
    quarantine/   inputs that could not be parsed, each with <stem>.error.json
    outbox/       <stem>.scored.csv, <stem>.rejected.csv, <stem>.duplicate.json
    ledger/       claims/<name>.json (files in flight), content/<sha256>.json (finished)
"""

from __future__ import annotations

import enum
import hashlib
import re
import unicodedata

from fraudops.inbox.storage import Entry

INCOMING, CLAIMED, PROCESSED, QUARANTINE, OUTBOX = (
    "incoming",
    "claimed",
    "processed",
    "quarantine",
    "outbox",
)
CLAIMS, CONTENT = "ledger/claims", "ledger/content"
MAX_NAME_BYTES = 200


class Verdict(enum.StrEnum):
    """What a run does with an entry of ``incoming/``."""

    TAKE = "take"
    LEAVE = "leave"  # hidden (an upload in progress), a folder, not a CSV: not ours
    QUARANTINE = "quarantine"


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


def classify(entry: Entry) -> tuple[Verdict, str | None]:
    """The verdict on an entry of ``incoming/``, with the reason when it is quarantined."""
    if entry.kind == "dir":
        return Verdict.LEAVE, None
    name = entry.name
    # a slash cannot be in a file name of incoming/: a nested or traversing S3 key
    nested = "/" in name or "\\" in name
    # hidden names (uploads in progress, ".report..csv.part") and other extensions are not
    # ours, whatever else they contain
    if not nested and (name.startswith(".") or not name.lower().endswith(".csv")):
        return Verdict.LEAVE, None
    problem = unsafe_name(name)
    if problem:
        return Verdict.QUARANTINE, f"unsafe file name: {problem}; the file was not read"
    if entry.kind != "file":
        reason = "not a regular file (symbolic links are never followed); the file was not read"
        return Verdict.QUARANTINE, reason
    return Verdict.TAKE, None


def quarantine_name(raw: str) -> str:
    """A safe, unique name for an entry whose own name must not be used."""
    digest = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    hint = re.sub(r"[^A-Za-z0-9_-]+", "_", raw)[:60].strip("_") or "file"
    return f"{hint}.{digest}"


def stem(name: str) -> str:
    """The name without its ``.csv``."""
    return name[:-4] if name.lower().endswith(".csv") else name
