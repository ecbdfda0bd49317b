"""Errors that the CLI, the API and the DAGs report as one clear message."""

from __future__ import annotations

import re

# user:password@ in a URL (postgresql://u:p@h, http://u:p@h); the user name stays
_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/\s:@]*):[^/\s@]*@"
)


class FraudOpsError(Exception):
    """A problem the user can fix (settings, reachability, input); shown without a traceback."""


class Fenced(FraudOpsError):
    """A newer holder of the same lock committed first: this writer must stop.

    Raised by the lake's fenced appends (``fraudops.lake``); defined here so that callers can
    catch it without importing the lake (pyiceberg, SQLAlchemy, pandas) before they need it.
    """


def redact(text: str) -> str:
    """``text`` with the passwords of any URLs in it replaced by ``***``."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", text)
