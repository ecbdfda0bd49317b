"""Population stability index (PSI): how far a window's distribution moved from a reference.

PSI = sum over bins of (current% - reference%) * ln(current% / reference%), with bins cut at
the reference's deciles (each category its own bin). Rules of thumb used across credit
risk: below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

EPSILON = 1e-4  # an empty bin counts as this share, so the logarithm stays finite


def psi(
    reference: np.ndarray, current: np.ndarray, *, categorical: bool = False, bins: int = 10
) -> float:
    """The PSI of ``current`` against ``reference`` (0: the same distribution)."""
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    # the values present: a missing one (no earlier transaction, a window the data did not
    # cover) is not a value of the distribution
    reference = reference[~np.isnan(reference)]
    current = current[~np.isnan(current)]
    if len(reference) == 0 or len(current) == 0:
        return float("nan")
    if categorical:
        values = np.union1d(np.unique(reference), np.unique(current))
        ref_bin = np.searchsorted(values, reference)
        cur_bin = np.searchsorted(values, current)
        n_bins = len(values)
    else:
        edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
        ref_bin = np.searchsorted(edges, reference, side="right")
        cur_bin = np.searchsorted(edges, current, side="right")
        n_bins = len(edges) + 1
    ref_counts = np.bincount(ref_bin, minlength=n_bins).astype(np.float64)
    cur_counts = np.bincount(cur_bin, minlength=n_bins).astype(np.float64)
    ref_share = np.maximum(ref_counts / ref_counts.sum(), EPSILON)
    cur_share = np.maximum(cur_counts / cur_counts.sum(), EPSILON)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def psi_table(
    reference: Mapping[str, np.ndarray],
    current: Mapping[str, np.ndarray],
    *,
    categorical: Sequence[str] = (),
) -> dict[str, float]:
    """The PSI of every column the two have in common."""
    return {
        name: psi(reference[name], current[name], categorical=name in categorical)
        for name in reference
        if name in current
    }
