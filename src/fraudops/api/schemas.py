"""Request and response models of the API; the transaction model is built from ``schema``.

Requests are validated strictly (no "12.5" for a number, no 1 for a boolean) and parsed by
pydantic-core straight from the body bytes: a JSON body is either one transaction or a list.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from functools import lru_cache
from typing import Annotated, Any, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)

from fraudops.schema import TRANSACTION_COLUMNS, Column

EXAMPLE_TRANSACTION: dict[str, Any] = {
    "transaction_id": "tx-0001",
    "event_ts": "2026-01-10T14:32:05Z",
    "card_id": "card-4821",
    "merchant_id": "m-0193",
    "merchant_category": "grocery",
    "channel": "chip",
    "card_present": True,
    "transaction_amount": 54.20,
    "latitude": 40.7128,
    "longitude": -74.0060,
    "home_latitude": 40.7306,
    "home_longitude": -73.9352,
    "age": 42,
    "credit_card_balance": 1250.0,
    "bank_account_balance": 8300.0,
    "savings_account_balance": 15000.0,
    "mortgage_balance": 210000.0,
    "total_est_nworth": 95000.0,
}
SUSPICIOUS_TRANSACTION: dict[str, Any] = {
    **EXAMPLE_TRANSACTION,
    "transaction_id": "tx-0002",
    "event_ts": "2026-01-10T03:12:44Z",
    "merchant_category": "jewelry",
    "channel": "online",
    "card_present": False,
    "transaction_amount": 4890.0,
    "latitude": 51.5074,
    "longitude": -0.1278,
    "bank_account_balance": 900.0,
}


def _as_utc(value: dt.datetime) -> dt.datetime:
    """Naive timestamps are UTC (as in CSV files); aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError("timestamp is out of range once converted to UTC") from exc


def _annotation(column: Column) -> Any:
    """The pydantic type of one contract column (ranges and categories from ``schema``)."""
    if column.kind == "string":
        return Annotated[str, Field(min_length=1, max_length=column.max_length)]
    if column.kind == "category":
        return Literal[column.categories]
    if column.kind == "timestamp":
        return Annotated[dt.datetime, AfterValidator(_as_utc)]
    if column.kind == "bool":
        return bool
    bounds: dict[str, Any] = {}
    if column.minimum is not None:
        bounds["gt" if column.exclusive_minimum else "ge"] = column.minimum
    if column.maximum is not None:
        bounds["le"] = column.maximum
    if column.kind == "int":
        return Annotated[int, Field(**bounds)]
    return Annotated[float, Field(allow_inf_nan=False, **bounds)]


_FIELDS: dict[str, Any] = {
    c.name: (_annotation(c), Field(description=c.description)) for c in TRANSACTION_COLUMNS
}
Transaction: type[BaseModel] = create_model(
    "Transaction",
    __config__=ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [EXAMPLE_TRANSACTION]}
    ),
    __doc__="One card transaction, as in the data contract (fraudops.schema).",
    **_FIELDS,
)
_ONE: TypeAdapter[Any] = TypeAdapter(Transaction)
_STARTS_LIST = re.compile(rb"\s*\[")


@lru_cache
def _many(max_batch: int) -> TypeAdapter[Any]:
    return TypeAdapter(Annotated[list[Transaction], Field(min_length=1, max_length=max_batch)])


def parse_transactions(body: bytes, *, max_batch: int) -> list[Any]:
    """Validated transactions from a JSON body (one object or a list of them).

    Raises:
        RequestValidationError: with one error per bad field, located under ``body``.
    """
    many = _STARTS_LIST.match(body) is not None
    try:
        records = _many(max_batch).validate_json(body) if many else [_ONE.validate_json(body)]
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
    if many:
        _check_unique_ids(records)
    return records


def _check_unique_ids(records: list[Any]) -> None:
    first: dict[str, int] = {}
    errors = []
    for i, record in enumerate(records):
        j = first.setdefault(record.transaction_id, i)
        if j != i:
            errors.append(
                {
                    "type": "duplicate_id",
                    "loc": ("body", i, "transaction_id"),
                    "msg": f"duplicate transaction_id (same as item {j})",
                    "input": record.transaction_id,
                }
            )
    if errors:
        raise RequestValidationError(errors)


def error_items(errors: Any) -> list[dict[str, Any]]:
    """Validation errors as the API reports them: loc, the field named, message, type, input.

    Inputs are echoed only when they are short scalars; NaN/inf become text so that the
    error body is valid JSON.
    """
    items = []
    for err in errors:
        loc = list(err.get("loc", ()))
        item: dict[str, Any] = {
            "loc": loc,
            "field": next((p for p in reversed(loc) if isinstance(p, str)), "body"),
            "msg": err.get("msg", "invalid"),
            "type": err.get("type", "value_error"),
        }
        value = err.get("input")
        if isinstance(value, float) and not math.isfinite(value):
            item["input"] = str(value)
        elif isinstance(value, bool | int | float | str) and len(str(value)) <= 200:
            item["input"] = value
        items.append(item)
    return items


_PROTECTED = ConfigDict(protected_namespaces=())


class Prediction(BaseModel):
    """The model's answer for one transaction."""

    transaction_id: str
    fraud_probability: float = Field(description="Probability that the transaction is fraud.")
    is_fraud: bool = Field(description="fraud_probability >= the model's threshold.")


class PredictResponse(BaseModel):
    """Predictions, in request order, and the model version that made them."""

    model_config = _PROTECTED

    model_name: str
    model_version: str
    threshold: float = Field(description="Decision threshold of this model version.")
    predictions: list[Prediction]


class ModelInfo(BaseModel):
    """The model being served."""

    name: str
    version: str
    alias: str
    run_id: str | None = Field(description="MLflow run that trained it.")
    snapshot_id: str | None = Field(description="Lake snapshot it was trained on.")
    threshold: float
    metrics: dict[str, float | None] = Field(description="Metrics of the training run.")
    lineage: dict[str, str] = Field(description="Lineage tags of the model version.")
    decision: dict[str, str] = Field(description="The promotion gate's decision.")
    loaded_at: dt.datetime
    source: Literal["mlflow", "cache"] = Field(
        description="'cache' when MLflow was unreachable at start-up and the local copy serves."
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

    loc: list[str | int] = Field(description='Where: ["body", item index, field].')
    field: str = Field(description="The field at fault ('body' for the body as a whole).")
    msg: str = Field(description="Why it was refused.")
    type: str
    input: Any = None


class ValidationErrorResponse(BaseModel):
    """422: every problem found in the request."""

    detail: list[ErrorItem]
