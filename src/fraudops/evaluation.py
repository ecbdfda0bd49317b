"""Pure model evaluation: metrics, threshold choice and plots (no IO)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def choose_threshold(y: np.ndarray, proba: np.ndarray) -> float:
    """The probability threshold that maximises F1 (0.5 when there are no positives)."""
    if y.sum() == 0:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, proba)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[int(np.argmax(f1))])


def at_budget(
    y: np.ndarray, proba: np.ndarray, days: np.ndarray, budget: int
) -> tuple[float, float, int]:
    """(precision, recall, alerts) when analysts review the ``budget`` top scores of each day.

    ``days`` gives each row's day (any integer code); ties go to the earlier row.
    """
    y = np.asarray(y).astype(bool)
    if len(y) == 0:
        return 0.0, 0.0, 0
    order = np.lexsort((-np.asarray(proba, dtype=np.float64), np.asarray(days)))
    sorted_days = np.asarray(days)[order]
    starts = np.r_[0, np.flatnonzero(sorted_days[1:] != sorted_days[:-1]) + 1]
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    alerted = np.zeros(len(y), dtype=bool)
    alerted[order[rank < budget]] = True
    caught = int(np.sum(alerted & y))
    alerts = int(alerted.sum())
    frauds = int(y.sum())
    return (caught / alerts if alerts else 0.0), (caught / frauds if frauds else 0.0), alerts


def evaluate(
    y: np.ndarray,
    proba: np.ndarray,
    threshold: float,
    *,
    days: np.ndarray | None = None,
    budget: int | None = None,
) -> dict[str, float]:
    """Average precision (PR-AUC, primary), ROC-AUC, log loss, P/R/F1 at the threshold.

    With ``days`` and ``budget``: precision and recall when analysts review ``budget`` alerts
    a day (the top scores of each day).
    """
    y = np.asarray(y).astype(int)
    pred = proba >= threshold
    tp = float(np.sum(pred & (y == 1)))
    fp = float(np.sum(pred & (y == 0)))
    fn = float(np.sum(~pred & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    both = len(np.unique(y)) == 2
    return {
        "average_precision": float(average_precision_score(y, proba)) if both else 0.0,
        "roc_auc": float(roc_auc_score(y, proba)) if both else 0.5,
        "log_loss": float(log_loss(y, np.clip(proba, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "threshold": float(threshold),
        "fraud_rate": float(y.mean()) if len(y) else 0.0,
        **_budget_metrics(y, proba, days, budget),
    }


def _budget_metrics(
    y: np.ndarray, proba: np.ndarray, days: np.ndarray | None, budget: int | None
) -> dict[str, float]:
    if days is None or budget is None:
        return {}
    precision, recall, alerts = at_budget(y, proba, days, budget)
    n_days = len(np.unique(days)) or 1
    return {
        "precision_at_budget": precision,
        "recall_at_budget": recall,
        "alerts_per_day": alerts / n_days,
    }


def _figure(size: tuple[float, float] = (5, 4)) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="tight")


def pr_curve_figure(y: np.ndarray, proba: np.ndarray, threshold: float) -> Figure:
    """Precision-recall curve with the operating point marked."""
    precision, recall, _ = precision_recall_curve(y, proba)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(recall, precision, lw=1.5)
    m = evaluate(y, proba, threshold)
    ax.scatter(
        [m["recall"]], [m["precision"]], color="red", zorder=3, label=f"threshold {threshold:.3f}"
    )
    ax.axhline(float(np.mean(y)), color="grey", ls="--", lw=1, label="base rate")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(f"PR curve (AP = {m['average_precision']:.3f})")
    ax.legend(loc="lower left")
    return fig


def confusion_matrix_figure(y: np.ndarray, proba: np.ndarray, threshold: float) -> Figure:
    """Confusion matrix at the decision threshold."""
    cm = confusion_matrix(y, proba >= threshold, labels=[0, 1])
    fig = _figure((4, 3.6))
    ax = fig.add_subplot()
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, f"{v:,}", ha="center", va="center", color="black")
    ax.set_xticks([0, 1], ["legit", "fraud"])
    ax.set_yticks([0, 1], ["legit", "fraud"])
    ax.set(xlabel="predicted", ylabel="actual", title=f"Confusion matrix @ {threshold:.3f}")
    return fig


def importance_figure(importance: dict[str, float]) -> Figure:
    """Horizontal bar chart of feature importance (gain)."""
    items = sorted(importance.items(), key=lambda kv: kv[1])
    fig = _figure((5, 4.5))
    ax = fig.add_subplot()
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set(xlabel="total gain", title="Feature importance")
    return fig
