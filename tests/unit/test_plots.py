"""The training plots keep every text inside the figure (their margins are fixed, not fitted)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from fraudops import evaluation
from fraudops.features import FEATURE_NAMES

ROWS = 20_000


def _scores(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(ROWS) < 0.01).astype(int)
    proba = np.clip(rng.random(ROWS) * 0.2 + y * rng.random(ROWS) * 0.8, 0, 1)
    return y, proba.astype(np.float32)


def _cost_figure(scale: float) -> Callable[[], Figure]:
    def make() -> Figure:
        y, proba = _scores()
        amount = np.random.default_rng(1).lognormal(3, 1, ROWS) * scale
        curve = evaluation.cost_curve(y, proba, amount, n_days=4, false_alarm_cost=5.0)
        return evaluation.cost_curve_figure(curve, 0.3, 100)

    return make


FIGURES: dict[str, Callable[[], Figure]] = {
    "pr curve": lambda: evaluation.pr_curve_figure(*_scores(), 0.3),
    "confusion matrix": lambda: evaluation.confusion_matrix_figure(  # seven-digit counts
        np.r_[np.zeros(1_234_567), np.ones(1_000_000)],
        np.r_[np.zeros(1_234_567), np.ones(1_000_000)].astype(np.float32),
        0.5,
    ),
    "importance": lambda: evaluation.importance_figure(
        {name: float(10**i) for i, name in enumerate(FEATURE_NAMES)}
    ),
    "cost curve, savings": _cost_figure(40.0),
    "cost curve, losses": _cost_figure(-90.0),  # six-digit negative ticks: the widest labels
    "cost curve, millions": _cost_figure(2_000.0),
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_no_text_leaves_the_figure(name: str) -> None:
    fig = FIGURES[name]()
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    # what is drawn (ticks inside the view, labels, title, legend), as layout="tight" sees it
    drawn = fig.get_tightbbox(canvas.get_renderer())
    width, height = fig.get_size_inches()
    assert drawn.x0 >= 0 and drawn.y0 >= 0, drawn
    assert drawn.x1 <= width and drawn.y1 <= height, drawn
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert len(texts) > 5  # ticks, axis labels and the title at least
