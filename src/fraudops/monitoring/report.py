"""The report people open in a browser: Evidently's drift report of one check.

Evidently draws the distributions of every feature and of the score, reference against
window, with its own PSI test per column; the verdict itself comes from our rule
(:mod:`fraudops.monitoring.rule`), whose figures are logged beside the report. The HTML file
carries its scripts: it opens without a network.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from fraudops.features import DISCRETE_FEATURES, FEATURE_NAMES


def write_report(
    reference: dict[str, np.ndarray], current: dict[str, np.ndarray], path: Path, *, psi: float
) -> Path:
    """Write the drift report of ``current`` against ``reference`` to ``path`` (HTML)."""
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently sends nothing; make it explicit
    # Evidently takes seconds to import: only a check that writes a report pays it. Its
    # import warns about itself (numpy.core, escapes in docstrings): not ours to act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

    # what the reference holds (a card-history feature waits for a long enough history)
    columns = [
        c
        for c in (*FEATURE_NAMES, "fraud_probability")
        if c in reference and not np.isnan(reference[c]).all()
    ]
    definition = DataDefinition(
        numerical_columns=[c for c in columns if c not in DISCRETE_FEATURES],
        categorical_columns=[c for c in DISCRETE_FEATURES if c in columns],
    )
    frames = [
        Dataset.from_pandas(pd.DataFrame({c: data[c] for c in columns}), data_definition=definition)
        for data in (reference, current)
    ]
    report = Report([DataDriftPreset(method="psi", threshold=psi)])
    snapshot = report.run(frames[1], frames[0])
    snapshot.save_html(str(path))
    return path
