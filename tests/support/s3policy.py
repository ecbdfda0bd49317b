"""A small evaluator of S3 IAM policies: what one key may do to one bucket or object.

It applies the rule AWS and MinIO share for the policies attached to one identity: an explicit
``Deny`` in any statement wins; otherwise some ``Allow`` must match; otherwise the request is
denied. ``Action`` and ``Resource`` match with IAM's wildcards (``*`` spans ``/`` too, ``?`` is
one character; actions ignore case). ``Condition``, ``NotAction``, ``NotResource`` and
``Principal`` are not evaluated: a statement that uses them is refused, which keeps the stack's
policies simple enough to check here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UNSUPPORTED = ("Condition", "NotAction", "NotResource", "Principal", "NotPrincipal")


def arn(bucket: str, key: str | None = None) -> str:
    """The ARN of a bucket, or of one object in it."""
    return f"arn:aws:s3:::{bucket}" if key is None else f"arn:aws:s3:::{bucket}/{key}"


def _listed(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _pattern(wildcard: str, *, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in wildcard)
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


@dataclass(frozen=True)
class Statement:
    """One statement: its effect and what it names."""

    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Statement:
        """Read a statement; refuse the parts this evaluator does not understand."""
        sid = str(raw.get("Sid", "?"))
        used = [key for key in UNSUPPORTED if key in raw]
        if used:
            raise ValueError(f"statement {sid}: {', '.join(used)} is not evaluated here")
        if raw.get("Effect") not in ("Allow", "Deny"):
            raise ValueError(f"statement {sid}: Effect must be Allow or Deny")
        return cls(sid, raw["Effect"], _listed(raw["Action"]), _listed(raw["Resource"]))

    def matches(self, action: str, resource: str) -> bool:
        """Whether the statement names this action on this resource."""
        return any(_pattern(a, ignore_case=True).fullmatch(action) for a in self.actions) and any(
            _pattern(r, ignore_case=False).fullmatch(resource) for r in self.resources
        )


@dataclass(frozen=True)
class Policy:
    """A policy document: its statements."""

    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, document: dict[str, Any]) -> Policy:
        """Read a policy document (Version 2012-10-17)."""
        if document.get("Version") != "2012-10-17":
            raise ValueError("policy Version must be 2012-10-17")
        statements = document["Statement"]
        if isinstance(statements, dict):
            statements = [statements]
        return cls(tuple(Statement.parse(s) for s in statements))

    @classmethod
    def load(cls, path: Path) -> Policy:
        """Read a policy file."""
        return cls.parse(json.loads(path.read_text(encoding="utf-8")))


def allowed(policies: Sequence[Policy], action: str, resource: str) -> bool:
    """Whether a key holding ``policies`` may do ``action`` on ``resource``."""
    matching = [s for p in policies for s in p.statements if s.matches(action, resource)]
    if any(s.effect == "Deny" for s in matching):
        return False
    return any(s.effect == "Allow" for s in matching)


def rights(policies: Sequence[Policy], actions: Iterable[str], resource: str) -> set[str]:
    """The subset of ``actions`` a key holding ``policies`` may do on ``resource``."""
    return {action for action in actions if allowed(policies, action, resource)}
