"""Pure model evaluation: metrics, threshold choice and plots (no IO)."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class CostCurve:
    """What alerting costs and saves a day, threshold by threshold (highest first).

    Alerting on every score ``>= thresholds[i]`` raises ``alerts_per_day[i]`` alerts a day and
    saves ``saved_per_day[i]``: the amounts of the frauds caught, less ``false_alarm_cost``
    per false alarm.
    """

    thresholds: np.ndarray
    alerts_per_day: np.ndarray
    saved_per_day: np.ndarray


def cost_curve(
    y: np.ndarray, proba: np.ndarray, amount: np.ndarray, *, n_days: int, false_alarm_cost: float
) -> CostCurve:
    """The cost curve of scores ``proba`` on labelled rows spread over ``n_days``."""
    order = np.argsort(-np.asarray(proba, dtype=np.float64), kind="stable")
    p = np.asarray(proba, dtype=np.float64)[order]
    fraud = np.asarray(y)[order].astype(bool)
    caught = np.cumsum(np.where(fraud, np.asarray(amount, dtype=np.float64)[order], 0.0))
    false = np.cumsum(~fraud)
    # a threshold alerts on a whole group of tied scores: the curve has a point per group
    last = np.r_[np.flatnonzero(p[1:] != p[:-1]), len(p) - 1] if len(p) else np.zeros(0, int)
    days = max(n_days, 1)
    return CostCurve(
        thresholds=p[last],
        alerts_per_day=(last + 1) / days,
        saved_per_day=(caught[last] - false_alarm_cost * false[last]) / days,
    )


def choose_threshold(curve: CostCurve, budget: float) -> float:
    """The threshold that saves the most a day with at most ``budget`` alerts a day.

    No alert at all (a threshold above every score) when no allowed threshold saves money.
    """
    within = np.flatnonzero(curve.alerts_per_day <= budget)
    none = float(np.nextafter(curve.thresholds[0], np.inf)) if len(curve.thresholds) else 1.0
    if len(within) == 0:
        return none
    best = within[int(np.argmax(curve.saved_per_day[within]))]
    return float(curve.thresholds[best]) if curve.saved_per_day[best] > 0 else none


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
    amount: np.ndarray | None = None,
    false_alarm_cost: float | None = None,
) -> dict[str, float]:
    """Average precision (PR-AUC), ROC-AUC, log loss, P/R/F1 at the threshold.

    With ``days`` and ``budget``: precision and recall when analysts review ``budget`` alerts
    a day (the top scores of each day). With ``days``, ``amount`` and ``false_alarm_cost``
    too: at the threshold, the alerts a day and the cost saved a day (frauds caught, their
    amount, less the cost of the false alarms).
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
        **_cost_metrics(y, pred, days, amount, false_alarm_cost),
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


def _cost_metrics(
    y: np.ndarray,
    pred: np.ndarray,
    days: np.ndarray | None,
    amount: np.ndarray | None,
    false_alarm_cost: float | None,
) -> dict[str, float]:
    if days is None or amount is None or false_alarm_cost is None:
        return {}
    n_days = len(np.unique(days)) or 1
    fraud = y == 1
    caught = float(np.sum(np.where(pred & fraud, amount, 0.0)))
    false_alarms = float(np.sum(pred & ~fraud))
    return {
        "alerts_per_day_at_threshold": float(pred.sum()) / n_days,
        "cost_saved_per_day": (caught - false_alarm_cost * false_alarms) / n_days,
        "fraud_amount_per_day": float(np.sum(np.where(fraud, amount, 0.0))) / n_days,
    }


def cost_curve_figure(curve: CostCurve, threshold: float, budget: float) -> Figure:
    """Cost saved a day against alerts a day, the alert budget and the chosen threshold."""
    fig = _figure((5.5, 4), left=1.2)  # tick labels of up to seven characters (-800000)
    ax = fig.add_subplot()
    ax.plot(curve.alerts_per_day, curve.saved_per_day, lw=1.5)
    ax.axvline(budget, color="grey", ls="--", lw=1, label=f"alert budget {budget:g}/day")
    chosen = np.flatnonzero(curve.thresholds >= threshold)
    if len(chosen):
        i = chosen[-1]
        ax.scatter(
            [curve.alerts_per_day[i]],
            [curve.saved_per_day[i]],
            color="red",
            zorder=3,
            label=f"threshold {threshold:.3f}: {curve.saved_per_day[i]:,.0f} saved/day",
        )
    ax.set(xlabel="alerts per day", ylabel="cost saved per day")
    ax.set_xlim(0, max(budget * 3, 1))
    ax.set_title("Cost curve")
    ax.legend(loc="lower right")
    return fig


# Margins around the axes, in inches: room for the title, tick labels and axis labels at
# matplotlib's default sizes (tests/unit/test_plots.py draws every figure and checks that no
# text leaves it). Fixed margins draw each figure once; layout="tight" draws it twice.
_MARGINS = {"left": 0.75, "bottom": 0.6, "right": 0.3, "top": 0.4}
_LEFT_OF_LABELS = 0.35  # y tick marks and padding, to the left of the longest tick label


def _figure(size: tuple[float, float] = (5, 4), *, left: float = _MARGINS["left"]) -> Figure:
    """A figure with one set of axes in fixed margins (``left``: inches for the y labels)."""
    from matplotlib.figure import Figure

    width, height = size
    fig = Figure(figsize=size)
    fig.subplots_adjust(
        left=left / width,
        bottom=_MARGINS["bottom"] / height,
        right=1 - _MARGINS["right"] / width,
        top=1 - _MARGINS["top"] / height,
    )
    return fig


def _text_width(fig: Figure, texts: list[str], size: str | float) -> float:
    """The width in inches of the widest of ``texts`` at font ``size``, as drawn on ``fig``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.font_manager import FontProperties

    renderer = FigureCanvasAgg(fig).get_renderer()  # type: ignore[no-untyped-call]
    prop = FontProperties(size=size)
    widest = max(
        (renderer.get_text_width_height_descent(t, prop, ismath=False)[0] for t in texts),
        default=0.0,
    )
    return float(widest) / fig.dpi


def pr_curve_figure(y: np.ndarray, proba: np.ndarray, threshold: float) -> Figure:
    """Precision-recall curve with the operating point marked."""
    precision, recall, _ = precision_recall_curve(y, proba)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(recall, precision, lw=1.5)
    y = np.asarray(y).astype(int)
    pred = proba >= threshold
    tp, alerts, frauds = int(np.sum(pred & (y == 1))), int(pred.sum()), int(y.sum())
    ax.scatter(
        [tp / frauds if frauds else 0.0],
        [tp / alerts if alerts else 0.0],
        color="red",
        zorder=3,
        label=f"threshold {threshold:.3f}",
    )
    ax.axhline(float(np.mean(y)), color="grey", ls="--", lw=1, label="base rate")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ap = float(-np.sum(np.diff(recall) * precision[:-1]))  # as average_precision_score
    ax.set_title(f"PR curve (AP = {ap:.3f})")
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
    import matplotlib as mpl

    items = sorted(importance.items(), key=lambda kv: kv[1])
    fig = _figure((5, 4.5))
    names = [k for k, _ in items]
    labels = _text_width(fig, names, mpl.rcParams["ytick.labelsize"])
    fig.subplots_adjust(left=min(0.6, (labels + _LEFT_OF_LABELS) / 5))
    ax = fig.add_subplot()
    ax.barh(names, [v for _, v in items])
    ax.set(xlabel="total gain", title="Feature importance")
    return fig
