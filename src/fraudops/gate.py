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
class Score:
    """A version on the holdout: average precision, and the cost it saves a day.

    Saved at the version's own threshold: the frauds caught (their amount) less the false
    alarms' cost.
    """

    ap: float
    saved_per_day: float


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
    candidate_saved_per_day: float | None = None
    champion_saved_per_day: float | None = None

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
            candidate_saved_per_day=number("candidate_saved_per_day"),
            champion_saved_per_day=number("champion_saved_per_day"),
        )

    def summary(self) -> dict[str, Any]:
        """The few fields a DAG task returns (a small XCom value)."""
        keep = ("promote", "reason", "candidate_version", "candidate_ap", "awaiting_approval")
        champion = ("champion_version", "champion_ap")
        saved = ("candidate_saved_per_day", "champion_saved_per_day")
        return {k: getattr(self, k) for k in (*keep, *champion, *saved)}


NO_CHAMPION = "no production model yet"  # why a candidate has no champion, most often


def should_promote(
    candidate: Score,
    champion: Score | None,
    *,
    margin: float,
    floor: float,
    alone: str = NO_CHAMPION,  # why there is no champion
) -> tuple[bool, str]:
    """The gate: AP above ``floor``, and saving at least the champion's cost a day - ``margin``.

    Both are scored on the same holdout, each at its own threshold (what it would alert on).
    """
    ap, saved = candidate.ap, candidate.saved_per_day
    if not np.isfinite(ap) or ap < floor:
        return False, f"candidate AP {ap:.4f} is below the floor {floor:.4f}"
    if champion is None:
        return True, (
            f"{alone}; candidate AP {ap:.4f} >= floor {floor:.4f}, saves {saved:,.2f} a day"
        )
    against = (
        f"champion's {champion.saved_per_day:,.2f} - margin {margin:,.2f} "
        f"(AP {ap:.4f} vs {champion.ap:.4f})"
    )
    if np.isfinite(saved) and saved + margin >= champion.saved_per_day:
        return True, f"candidate saves {saved:,.2f} a day >= {against}"
    return False, f"candidate saves {saved:,.2f} a day < {against}"


def decide(
    *,
    version: str,
    champion: str | None,
    serving: bool = False,  # ``version`` is production already (no champion but itself)
    missing: list[str],
    score: Callable[[str], Score],
    holdout: pa.Table,
    holdout_snapshot_id: int | None,
    margin: float,
    floor: float,
) -> Decision:
    """The decision for a candidate against a champion, each scored on the holdout by ``score``.

    A candidate without training lineage (``missing`` names what it lacks) is refused unread.
    """
    cand: Score | None = None
    champ: Score | None = None
    if missing:
        promote = False
        reason = (
            f"version {version} has no training lineage ({', '.join(missing)}): only versions "
            "that `fraudops train` registered are scored, and this one was not read"
        )
    else:
        cand = score(version)
        champ = score(champion) if champion else None
        alone = f"version {version} is production already" if serving else NO_CHAMPION
        promote, reason = should_promote(cand, champ, margin=margin, floor=floor, alone=alone)
    ts = pc.cast(holdout["event_ts"], pa.date32())
    days = f"{pc.min(ts).as_py()}..{pc.max(ts).as_py()}" if holdout.num_rows else ""
    return Decision(
        promote=promote,
        reason=reason,
        candidate_version=version,
        candidate_ap=round(cand.ap, 6) if cand else 0.0,
        champion_version=champion,
        champion_ap=round(champ.ap, 6) if champ else None,
        holdout_rows=holdout.num_rows,
        holdout_snapshot_id=holdout_snapshot_id,
        holdout_days=days,
        decided_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        candidate_saved_per_day=round(cand.saved_per_day, 2) if cand else None,
        champion_saved_per_day=round(champ.saved_per_day, 2) if champ else None,
    )
