"""The chaos table: one row per scenario, counted from ground truth, and its verdict."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COLUMNS = ("scenario", "fault", "requests or rows", "lost", "duplicated", "errors", "verdict")


@dataclass(frozen=True)
class Row:
    """What one scenario measured.

    ``volume`` counts what went through the fault (requests, rows, runs, promotions; ``unit``
    says which). A count is None when it was not measured: the verdict is then a failure,
    never a zero nobody measured.
    """

    scenario: str
    fault: str
    volume: int | None
    unit: str
    lost: int | None
    duplicated: int | None
    errors: int | None
    notes: str = ""
    failure: str | None = None  # why the scenario could not reach its verdict

    @property
    def verdict(self) -> str:
        """``pass`` only when everything was measured and nothing was lost, doubled or failed."""
        if self.failure is not None:
            return "FAILED"
        counts = (self.volume, self.lost, self.duplicated, self.errors)
        if any(c is None for c in counts):
            return "FAILED"
        return "pass" if (self.lost, self.duplicated, self.errors) == (0, 0, 0) else "FAIL"

    def cells(self) -> tuple[str, ...]:
        """The row as table cells."""

        def shown(n: int | None) -> str:
            return "?" if n is None else f"{n:,}"

        volume = "?" if self.volume is None else f"{self.volume:,} {self.unit}"
        return (
            self.scenario,
            self.fault,
            volume,
            shown(self.lost),
            shown(self.duplicated),
            shown(self.errors),
            self.verdict,
        )

    def as_dict(self) -> dict[str, Any]:
        """The row for JSON, with its verdict."""
        return {**dataclasses.asdict(self), "verdict": self.verdict}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        """A row read back from JSON."""
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


def failed(scenario: str, reason: str) -> Row:
    """A scenario that could not reach its verdict."""
    return Row(scenario, "-", None, "", None, None, None, failure=reason)


def write_rows(path: Path, rows: list[Row]) -> None:
    """Write rows as JSON (a scenario process hands them to the runner this way)."""
    path.write_text(json.dumps([r.as_dict() for r in rows], indent=2))


def read_rows(path: Path) -> list[Row]:
    """Rows written by :func:`write_rows`."""
    return [Row.from_dict(item) for item in json.loads(path.read_text())]


def markdown(rows: list[Row]) -> str:
    """The table (Markdown, so it reads in a terminal and pastes into the README)."""
    cells = [COLUMNS, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]

    def line(values: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(COLUMNS), rule, *(line(c) for c in cells[1:])])


def notes(rows: list[Row]) -> str:
    """What each scenario saw beyond the counts, and why a failed one failed."""
    out = []
    for r in rows:
        if r.failure:
            out.append(f"- {r.scenario}: could not reach a verdict: {r.failure}")
        elif r.notes:
            out.append(f"- {r.scenario}: {r.notes}")
    return "\n".join(out)
