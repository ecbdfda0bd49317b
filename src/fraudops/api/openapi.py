"""OpenAPI extras for /docs: request bodies with ready-to-run examples, error responses.

The predict routes read their bodies themselves (strict JSON straight from bytes, CSV through
Arrow), so FastAPI cannot derive these from a parameter: they are declared here.
"""

from __future__ import annotations

from typing import Any

from fraudops.api.schemas import Message, ValidationErrorResponse
from fraudops.schema import EXAMPLE_TRANSACTION, FEATURE_INPUT_NAMES, SUSPICIOUS_TRANSACTION
from fraudops.validation import Transaction

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Message, "description": "Missing or unknown X-API-Key."},
    413: {"model": Message, "description": "Body over the configured limit."},
    415: {"model": Message, "description": "Wrong Content-Type."},
    422: {"model": ValidationErrorResponse, "description": "Invalid input: field and reason."},
    503: {"model": Message, "description": "No model loaded yet."},
}
_ONE = Transaction.model_json_schema()
JSON_BODY = {
    "requestBody": {
        "required": True,
        "description": "One transaction, or a list of them (at most FRAUDOPS_MAX_BATCH, "
        "default 1,000, with unique transaction_id).",
        "content": {
            "application/json": {
                "schema": {"anyOf": [_ONE, {"type": "array", "items": _ONE, "minItems": 1}]},
                "examples": {
                    "one": {"summary": "One transaction", "value": EXAMPLE_TRANSACTION},
                    "many": {
                        "summary": "A list of transactions",
                        "value": [EXAMPLE_TRANSACTION, SUSPICIOUS_TRANSACTION],
                    },
                },
            }
        },
    }
}


def _csv_line(values: dict[str, Any]) -> str:
    return ",".join(
        str(values[c]).lower() if c == "card_present" else str(values[c])
        for c in FEATURE_INPUT_NAMES
    )


_CSV_EXAMPLE = "\n".join(
    [
        ",".join(FEATURE_INPUT_NAMES),
        _csv_line(EXAMPLE_TRANSACTION),
        _csv_line(SUSPICIOUS_TRANSACTION),
    ]
)
CSV_BODY = {
    "requestBody": {
        "required": True,
        "description": "A CSV file with a header row naming the contract's columns.",
        "content": {"text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE}},
    }
}
