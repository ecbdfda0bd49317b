"""The promotion gate's rule and its decision: pure, no registry (``registry`` applies them)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

GATE = "fraudops.gate."  # decision tags on a version


@dataclass(frozen=True)
class Decision:
    """The outcome of the promotion gate for one candidate version."""

    promote: bool
    reason: str
    candidate_version: str
    candidate_ap: float
    champion_version: str | None
    champion_ap: float | None
    holdout_rows: int
    holdout_snapshot_id: int | None
    holdout_days: str
    decided_at: str
    awaiting_approval: bool = False  # passed, and production waits for a person's approval

    @property
    def verdict(self) -> str:
        """``promoted``, ``rejected`` or ``awaiting approval``."""
        if self.promote and self.awaiting_approval:
            return "awaiting approval"
        return "promoted" if self.promote else "rejected"

    def as_tags(self) -> dict[str, str]:
        """The decision as registry tags on the candidate version."""
        values = dataclasses.asdict(self)
        return {
            f"{GATE}decision": self.verdict,
            **{f"{GATE}{k}": "" if v is None else str(v) for k, v in values.items()},
        }

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Decision | None:
        """The decision recorded on a version (None if the gate never ran on it)."""
        got = {k.removeprefix(GATE): v for k, v in tags.items() if k.startswith(GATE)}
        if "decided_at" not in got:
            return None

        def number(key: str) -> float | None:
            return float(got[key]) if got.get(key) else None

        snapshot = got.get("holdout_snapshot_id")
        return cls(
            promote=got.get("promote") == "True",
            reason=got.get("reason", ""),
            candidate_version=got.get("candidate_version", ""),
            candidate_ap=number("candidate_ap") or 0.0,
            champion_version=got.get("champion_version") or None,
            champion_ap=number("champion_ap"),
            holdout_rows=int(got.get("holdout_rows") or 0),
            holdout_snapshot_id=int(snapshot) if snapshot else None,
            holdout_days=got.get("holdout_days", ""),
            decided_at=got["decided_at"],
            awaiting_approval=got.get("awaiting_approval") == "True",
        )

    def summary(self) -> dict[str, Any]:
        """The few fields a DAG task returns (a small XCom value)."""
        keep = ("promote", "reason", "candidate_version", "candidate_ap", "awaiting_approval")
        return {k: getattr(self, k) for k in (*keep, "champion_version", "champion_ap")}


def should_promote(
    candidate: float, champion: float | None, *, margin: float, floor: float
) -> tuple[bool, str]:
    """The gate: at least as good as the champion (less ``margin``) and above ``floor``."""
    if not np.isfinite(candidate) or candidate < floor:
        return False, f"candidate AP {candidate:.4f} is below the floor {floor:.4f}"
    if champion is None:
        return True, f"no production model yet; candidate AP {candidate:.4f} >= floor {floor:.4f}"
    if candidate + margin >= champion:
        return True, (
            f"candidate AP {candidate:.4f} >= champion AP {champion:.4f} - margin {margin:.4f}"
        )
    return False, f"candidate AP {candidate:.4f} < champion AP {champion:.4f} - margin {margin:.4f}"


def decide(
    *,
    version: str,
    champion: str | None,
    missing: list[str],
    ap: Callable[[str], float],
    holdout: pa.Table,
    holdout_snapshot_id: int | None,
    margin: float,
    floor: float,
) -> Decision:
    """The decision for a candidate against a champion, each scored on the holdout by ``ap``.

    A candidate without training lineage (``missing`` names what it lacks) is refused unread.
    """
    if missing:
        promote, candidate_ap, champion_ap = False, 0.0, None
        reason = (
            f"version {version} has no training lineage ({', '.join(missing)}): only versions "
            "that `fraudops train` registered are scored, and this one was not read"
        )
    else:
        candidate_ap = ap(version)
        champion_ap = ap(champion) if champion else None
        promote, reason = should_promote(candidate_ap, champion_ap, margin=margin, floor=floor)
    ts = pc.cast(holdout["event_ts"], pa.date32())
    days = f"{pc.min(ts).as_py()}..{pc.max(ts).as_py()}" if holdout.num_rows else ""
    return Decision(
        promote=promote,
        reason=reason,
        candidate_version=version,
        candidate_ap=round(candidate_ap, 6),
        champion_version=champion,
        champion_ap=None if champion_ap is None else round(champion_ap, 6),
        holdout_rows=holdout.num_rows,
        holdout_snapshot_id=holdout_snapshot_id,
        holdout_days=days,
        decided_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
