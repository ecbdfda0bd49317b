"""Early stopping on the validation days' PR-AUC: XGBoost's own ``aucpr``, computed cheaply.

XGBoost evaluates ``aucpr`` after every round with a stable sort of the indices of every
validation row, a large share of a fit's time. Only the rows of positive label move the
curve, though: a step between two scores that no positive reaches adds no area. So
:func:`aucpr` sorts the scores once (a plain value sort), counts the rows at or above
each distinct positive score, and adds XGBoost's interpolated area of those few steps,
in XGBoost's order and arithmetic: the same double, bit for bit, for less work.

:class:`EarlyStopping` stops a fit the way ``xgb.train(early_stopping_rounds=...)`` does
(the best round is the first with the highest score; ``best_iteration`` and
``best_score`` are set on the booster as XGBoost sets them), so a fit gives the same
booster either way.
"""

from __future__ import annotations

import math

import numpy as np
import xgboost as xgb


def aucpr(proba: np.ndarray, labels: np.ndarray) -> float:
    """XGBoost's ``aucpr`` of float32 probabilities and 0/1 labels (no weights).

    The area of each step between distinct scores is XGBoost's ``CalcDeltaPRAUC`` (Davis
    and Goadrich's interpolation); a step that adds no positive adds exactly 0.0 there, so
    only the steps at the positives' distinct scores are summed, from the highest score.
    """
    proba = np.asarray(proba, dtype=np.float32)
    positive = np.asarray(labels) > 0
    total_pos = float(np.count_nonzero(positive))
    if total_pos == 0 or total_pos == len(proba):
        return math.nan  # XGBoost warns and gives NaN too
    every = np.sort(proba)
    pos = np.sort(proba[positive])
    steps = np.unique(pos)[::-1]  # each positive score, highest first

    def at_or_above(sorted_scores: np.ndarray) -> tuple[list[int], list[int]]:
        n = len(sorted_scores)
        left = np.searchsorted(sorted_scores, steps, side="left")
        right = np.searchsorted(sorted_scores, steps, side="right")
        return (n - left).tolist(), (n - right).tolist()

    rows_at, rows_above = at_or_above(every)
    tp_at, tp_above = at_or_above(pos)
    auc = 0.0
    for n_at, n_above, tp, tp_prev in zip(rows_at, rows_above, tp_at, tp_above, strict=True):
        fp, fp_prev = float(n_at - tp), float(n_above - tp_prev)
        pr, pr_prev = tp / total_pos, tp_prev / total_pos
        h = (fp - fp_prev) / (tp - tp_prev)  # tp > tp_prev: a positive scored here
        a = h + 1
        b = (fp_prev - h * tp_prev) / total_pos
        if b != 0.0:
            auc += (pr - pr_prev - b / a * (math.log(a * pr + b) - math.log(a * pr_prev + b))) / a
        else:
            auc += (pr - pr_prev) / a
    return min(auc, 1.0)


class EarlyStopping(xgb.callback.TrainingCallback):
    """Stop when ``aucpr`` on ``valid`` has not improved for ``rounds`` rounds.

    ``valid`` is scored through the booster's prediction cache: each round adds only its
    new tree's outputs.
    """

    def __init__(self, valid: xgb.DMatrix, *, rounds: int) -> None:
        super().__init__()
        self.valid = valid
        self.labels = valid.get_label()
        self.rounds = rounds
        self.best: float | None = None
        self.since_best = 0

    def after_iteration(
        self, model: xgb.Booster, epoch: int, evals_log: xgb.callback.TrainingCallback.EvalsLog
    ) -> bool:
        """Score this round's booster; True (stop) after ``rounds`` rounds without a better one."""
        score = aucpr(model.predict(self.valid, training=False), self.labels)
        if self.best is None or score > self.best:
            self.best, self.since_best = score, 0
            model.set_attr(best_score=str(score), best_iteration=str(epoch))
        else:
            self.since_best += 1
        return self.since_best >= self.rounds
