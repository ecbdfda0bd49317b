"""Response models of the API, and the one shape of an input error.

Requests are validated by :mod:`fraudops.validation` (JSON records and CSV rows by the same
rules); every problem it finds becomes one :class:`ErrorItem` here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fraudops.validation import Rejection

MAX_ECHOED = 200  # characters of a bad input echoed back in an error


def error_item(rejection: Rejection) -> dict[str, Any]:
    """One problem as the API reports it: where (loc), the field, why (msg), type, input.

    ``loc`` is ``["body", item or row, field]``: a list item's index for JSON, a data row's
    number for CSV (1 = first row after the header), no index for a single transaction, just
    ``["body"]`` for the body as a whole. Inputs are echoed only when they are short scalars;
    NaN/inf become text so that the error body is valid JSON.
    """
    loc: list[str | int] = ["body"]
    if rejection.row is not None:
        loc.append(rejection.row)
    if rejection.column != "body":
        loc.append(rejection.column)
    return _item(loc, rejection.column, rejection.reason, rejection.problem, rejection.value)


def _item(loc: list[str | int], field: str, msg: str, kind: str, value: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"loc": loc, "field": field, "msg": msg, "type": kind}
    if isinstance(value, float) and not math.isfinite(value):
        item["input"] = str(value)
    elif isinstance(value, bool | int | float | str) and len(str(value)) <= MAX_ECHOED:
        item["input"] = value
    return item


def error_items(rejections: Iterable[Rejection]) -> list[dict[str, Any]]:
    """Every problem as the API reports it."""
    return [error_item(r) for r in rejections]


def parameter_error_items(errors: Iterable[Any]) -> list[dict[str, Any]]:
    """FastAPI's own validation errors (query, path, header parameters) in the same shape.

    Their ``loc`` stays FastAPI's: ``["query", "explain"]`` (the routes read bodies themselves).
    """
    out = []
    for err in errors:
        loc = list(err.get("loc", ())) or ["body"]
        field = next((str(p) for p in reversed(loc) if isinstance(p, str)), "body")
        out.append(
            _item(loc, field, err.get("msg", ""), err.get("type", "invalid"), err.get("input"))
        )
    return out


_PROTECTED = ConfigDict(protected_namespaces=())


class Reason(BaseModel):
    """Why the score is high: a feature that raised it (TreeSHAP), in words."""

    feature: str
    value: float | None = Field(description="The transaction's value of the feature.")
    contribution: float = Field(description="How much it raised the log-odds of fraud.")
    text: str = Field(description='The reason as a person reads it, e.g. "4,100 km from home".')


class Prediction(BaseModel):
    """The model's answer for one transaction."""

    transaction_id: str
    fraud_probability: float = Field(description="Probability that the transaction is fraud.")
    is_fraud: bool = Field(description="fraud_probability >= the model's threshold.")
    reasons: list[Reason] | None = Field(
        None, description="With ?explain=true: the top reasons, strongest first."
    )


class PredictResponse(BaseModel):
    """Predictions, in request order, and the model version that made them."""

    model_config = _PROTECTED

    model_name: str
    model_version: str
    threshold: float = Field(description="Decision threshold of this model version.")
    predictions: list[Prediction]


class ShadowInfo(BaseModel):
    """A challenger scored beside production on live traffic, never answered."""

    name: str
    version: str
    loaded_at: dt.datetime


class ModelInfo(BaseModel):
    """The model being served."""

    name: str
    version: str
    alias: str
    run_id: str | None = Field(description="MLflow run that trained it.")
    snapshot_id: str | None = Field(description="Lake snapshot it was trained on.")
    threshold: float
    metrics: dict[str, float | None] = Field(description="Metrics of the training run.")
    operating_point: dict[str, float | None] = Field(
        description="The threshold, the alert budget and false-alarm cost it was chosen for, "
        "and on the training holdout: precision and recall at the budget, alerts a day, "
        "cost saved a day (a missed fraud costs its amount)."
    )
    lineage: dict[str, str] = Field(description="Lineage tags of the model version.")
    decision: dict[str, Any] | None = Field(
        description="The promotion gate's decision: both scores, the holdout, the reason."
    )
    loaded_at: dt.datetime
    source: Literal["mlflow", "cache"] = Field(
        description="'cache' when MLflow was unreachable at start-up and the local copy serves."
    )
    shadow: ShadowInfo | None = Field(
        None,
        description="The version in shadow (`@shadow`), if this worker has loaded one: it "
        "scores the same requests off the request path (`fraudops shadow report`).",
    )


class ReloadResult(BaseModel):
    """Outcome of a forced poll of the alias."""

    changed: bool
    version: str | None
    previous_version: str | None = None


class Health(BaseModel):
    """Liveness / readiness."""

    model_config = _PROTECTED

    status: Literal["ok", "ready", "not ready"]
    model_version: str | None = None
    detail: str | None = None


class Message(BaseModel):
    """An error with one message."""

    detail: str


class ErrorItem(BaseModel):
    """One problem with the input."""

    loc: list[str | int] = Field(
        description='Where: ["body", list index (JSON) or data row (CSV), field].'
    )
    field: str = Field(
        description="The field at fault ('body' for the body as a whole, '*' for a CSV row)."
    )
    msg: str = Field(description="Why it was refused (the same words for JSON and CSV).")
    type: str = Field(description="The kind of problem, e.g. missing, not_number, duplicate_id.")
    input: Any = Field(None, description="The value refused, when it is short.")


class ValidationErrorResponse(BaseModel):
    """422: every problem found in the request."""

    detail: list[ErrorItem]
