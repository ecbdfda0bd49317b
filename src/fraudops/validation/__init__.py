"""One validator per contract: the rules in words, CSV text tables, JSON records."""

from fraudops.validation.records import RecordsRejected, Transaction, parse_transactions
from fraudops.validation.rules import (
    REJECTED_SCHEMA,
    REQUIRED,
    ROW_COLUMN,
    Problem,
    Rejection,
    SchemaError,
    check_columns,
    more_problems,
    reason,
    rejected_table,
    rejections,
)
from fraudops.validation.table import ValidationResult, duplicate_rows, validate_table

__all__ = [
    "REJECTED_SCHEMA",
    "REQUIRED",
    "ROW_COLUMN",
    "Problem",
    "RecordsRejected",
    "Rejection",
    "SchemaError",
    "Transaction",
    "ValidationResult",
    "check_columns",
    "duplicate_rows",
    "more_problems",
    "parse_transactions",
    "reason",
    "rejected_table",
    "rejections",
    "validate_table",
]
