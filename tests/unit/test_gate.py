import numpy as np
import pytest

from fraudops.evaluation import choose_threshold, evaluate
from fraudops.gate import should_promote


@pytest.mark.parametrize(
    ("candidate", "champion", "margin", "floor", "expected"),
    [
        (0.8, None, 0.0, 0.5, True),  # first model, above the floor
        (0.4, None, 0.0, 0.5, False),  # first model, below the floor
        (0.8, 0.7, 0.0, 0.5, True),  # better
        (0.7, 0.7, 0.0, 0.5, True),  # at least as good
        (0.69, 0.7, 0.0, 0.5, False),  # worse
        (0.69, 0.7, 0.02, 0.5, True),  # worse, but within the margin
        (0.45, 0.2, 0.0, 0.5, False),  # better than a bad champion, still below the floor
        (float("nan"), 0.2, 0.0, 0.0, False),
    ],
)
def test_should_promote(candidate, champion, margin, floor, expected):
    promote, reason = should_promote(candidate, champion, margin=margin, floor=floor)
    assert promote is expected
    assert reason


def test_evaluate_metrics():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.7, 0.8, 0.9])
    m = evaluate(y, p, 0.5)
    assert m["average_precision"] == pytest.approx(1.0)
    assert m["roc_auc"] == pytest.approx(1.0)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(1.0)
    assert m["f1"] == pytest.approx(0.8)
    assert choose_threshold(y, p) == pytest.approx(0.8)
