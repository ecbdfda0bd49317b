"""The model card of a registered version: what it is for, what made it, how it does.

:func:`publish` renders it from the version's training run, logs it there as
``model_card.md`` (beside the run's ``plots/``) and makes it the version's description in the
registry, where ``GET /model/card`` reads it.

:func:`operating_point` is the version at its threshold on the training holdout, in the terms
a fraud team plans with (alerts a day, precision and recall at the budget, cost saved a day):
``GET /model`` and the card both show it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from fraudops.cardhistory.definition import VERSION as FEATURE_VERSION
from fraudops.config import Settings

if TYPE_CHECKING:  # MLflow loads when a card is published, not when the API starts
    from mlflow.tracking import MlflowClient

TAG = "fraudops."
# what GET /model and the card call it -> the training run's metric
OPERATING_POINT = {
    "precision_at_budget": "holdout_precision_at_budget",
    "recall_at_budget": "holdout_recall_at_budget",
    "alerts_per_day": "holdout_alerts_per_day_at_threshold",
    "cost_saved_per_day": "holdout_cost_saved_per_day",
    "fraud_amount_per_day": "holdout_fraud_amount_per_day",
}


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def operating_point(
    metrics: Mapping[str, float | None], lineage: Mapping[str, str], threshold: float
) -> dict[str, float | None]:
    """The threshold, the budget and costs it was chosen for, and the holdout's figures there.

    ``lineage``: the version's ``fraudops.*`` tags, with or without the prefix.
    """
    tags = {k.removeprefix(TAG): v for k, v in lineage.items()}
    return {
        "threshold": threshold,
        "alert_budget": _number(tags.get("alert_budget")),
        "false_alarm_cost": _number(tags.get("false_alarm_cost")),
        **{name: metrics.get(metric) for name, metric in OPERATING_POINT.items()},
    }


CARD_FILE = "model_card.md"  # the card, at the root of the training run's artifacts
MAX_DESCRIPTION = 5000  # the registry keeps a version's description up to this many characters


def _f(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def render(
    *,
    name: str,
    version: str,
    run_id: str,
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    threshold: float,
    importance: Mapping[str, float],
    feature_version: str,
) -> str:
    """The card in markdown; its plots are the run's ``plots/*.png`` (relative links)."""
    t = {k.removeprefix(TAG): v for k, v in tags.items() if k.startswith(TAG)}
    point = operating_point(dict(metrics), t, threshold)
    top = sorted(importance.items(), key=lambda kv: -kv[1])[:5]
    total = sum(importance.values()) or 1.0
    coverage = _number(t.get("label_coverage"))
    maturity = t.get("label_maturity_days", "?")
    lines = [
        f"# {name} version {version}",
        "",
        "Scores card transactions for fraud; analysts review the alerts. XGBoost on the "
        f"transaction and its card's history ({feature_version}).",
        "",
        "## Data",
        f"- lake table `{t.get('lake_table', '?')}` at snapshot `{t.get('snapshot_id', '?')}`, "
        f"labels at snapshot `{t.get('labels_snapshot_id', '?')}`, label cut-off "
        f"{t.get('label_cutoff', '?')}",
        f"- days {t.get('date_from', '?')}..{t.get('date_to', '?')}: train "
        f"{t.get('train_days', '?')}, validation {t.get('valid_days', '?')}, holdout "
        f"{t.get('holdout_days', '?')}",
        f"- {int(_number(t.get('rows')) or 0):,} labelled rows of "
        f"{int(_number(t.get('rows_in_snapshot')) or 0):,} in the snapshot; fraud rate "
        f"{_f(_number(t.get('fraud_rate')), '.3%')}",
        f"- label coverage {_f(coverage, '.1%')}: transactions older than {maturity} days "
        "without a label event count as legitimate; younger ones are left out",
        "",
        "## Lineage",
        f"- training run `{run_id}`, code `{t.get('code_version', '?')}`",
        f"- trained because: {t.get('trigger', '?')}",
        "",
        "## At the alert budget (holdout)",
        f"- threshold {threshold:.4f}, chosen for {_f(point['alert_budget'], '.0f')} alerts a "
        f"day and a false alarm costing {_f(point['false_alarm_cost'], ',.2f')} (a missed "
        "fraud costs its amount)",
        f"- alerts a day {_f(point['alerts_per_day'], '.1f')}; precision@budget "
        f"{_f(point['precision_at_budget'], '.4f')}; recall@budget "
        f"{_f(point['recall_at_budget'], '.4f')}",
        f"- cost saved a day {_f(point['cost_saved_per_day'], ',.2f')} of "
        f"{_f(point['fraud_amount_per_day'], ',.2f')} fraud a day",
        f"- average precision {_f(metrics.get('holdout_average_precision'), '.4f')}, ROC AUC "
        f"{_f(metrics.get('holdout_roc_auc'), '.4f')}",
        "",
        "![cost curve (validation)](plots/cost_curve.png)",
        "",
        "## Top features (share of total gain)",
        *(f"- {feature}: {gain / total:.1%}" for feature, gain in top),
        "",
        "![feature importance](plots/feature_importance.png)",
        "",
        "## Known limits",
        "- trained and evaluated on synthetic transactions: no figure here transfers to real "
        "traffic",
        f"- labels mature in {maturity} days: a fraud reported later counts as legitimate here",
        "- the threshold assumes the alert budget and costs above; other budgets need another",
        "- card-history features need the card's last 30 days in the store: a new store or "
        "card reads as a first transaction",
    ]
    return "\n".join(lines) + "\n"


def description(card: str) -> str:
    """The card as the registry keeps it (cut to its limit, never mid-line)."""
    if len(card) <= MAX_DESCRIPTION:
        return card
    cut = card[: MAX_DESCRIPTION - 40].rsplit("\n", 1)[0]
    return cut + f"\n\n(cut: the whole card is `{CARD_FILE}`)\n"


def publish(client: MlflowClient, settings: Settings, version: str) -> str:
    """Render a registered version's card from its run; log it and make it the description."""
    import mlflow.artifacts

    mv = client.get_model_version(settings.model_name, version)
    run_id = str(mv.run_id)  # every version `train` registers comes from a run
    run = client.get_run(run_id)
    metrics = dict(run.data.metrics)
    try:
        importance = mlflow.artifacts.load_dict(f"runs:/{run_id}/feature_importance.json")
    except Exception:  # noqa: BLE001  (a run logged without it: the card says less)
        importance = {}
    card = render(
        name=settings.model_name,
        version=str(version),
        run_id=run_id,
        metrics=metrics,
        tags={**run.data.tags, **(mv.tags or {})},
        threshold=float(metrics.get("threshold", 0.5)),
        importance={k: float(v) for k, v in importance.items()},
        feature_version=FEATURE_VERSION,
    )
    client.log_text(run_id, card, CARD_FILE)
    client.update_model_version(settings.model_name, version, description=description(card))
    return card
