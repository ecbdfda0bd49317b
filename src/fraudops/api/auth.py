"""API keys: ``X-API-Key`` on predict and admin routes, compared in constant time."""

from __future__ import annotations

import hmac
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from pathlib import Path

from fastapi import HTTPException, Request, status
from fastapi.security import APIKeyHeader

from fraudops.config import Settings
from fraudops.errors import FraudOpsError

HEADER = "X-API-Key"
KEY_FILE = "api-key"
MIN_KEY_CHARS = 16  # a key a person could guess is no key


class FailureThrottle:
    """Wrong keys per client: after ``limit`` in a ``window`` (s), the client waits it out.

    Checked before the key, so a guessing client gets a fast 429 and learns nothing more;
    the table of clients is bounded (the oldest are forgotten first).
    """

    def __init__(
        self,
        *,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str) -> deque[float]:
        times = self._failures.get(client)
        if times is None:
            return deque()
        horizon = self.clock() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        return times

    def wait(self, client: str) -> float:
        """Seconds this client must wait before its next try (0: it may try now)."""
        times = self._recent(client)
        if len(times) < self.limit:
            return 0.0
        return max(0.0, times[0] + self.window - self.clock())

    def failed(self, client: str) -> None:
        """Count a wrong or missing key."""
        times = self._recent(client)
        times.append(self.clock())
        self._failures[client] = times
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)


class KeyRing:
    """A set of keys; membership compares against every key in constant time."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = tuple(k.encode() for k in keys if k)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        candidate = key.encode()
        found = False
        for known in self._keys:  # no early exit: the time does not tell which key matched
            found |= hmac.compare_digest(candidate, known)
        return found

    def __len__(self) -> int:
        return len(self._keys)


def key_file(settings: Settings) -> Path:
    """Where ``fraudops demo`` keeps the key it generates when none is set."""
    return settings.home_dir / KEY_FILE


def configured_keys(settings: Settings) -> tuple[list[str], list[str]]:
    """(client keys, admin keys): the settings' keys, else the key stored in ``home/api-key``.

    Raises:
        FraudOpsError: there is no key at all: the API does not start without one.
    """
    keys = [k.get_secret_value() for k in settings.api_keys]
    admin_keys = [k.get_secret_value() for k in settings.admin_api_keys]
    if not keys and not admin_keys:
        stored = key_file(settings)
        if stored.is_file():
            keys = [stored.read_text().strip()]
    if not any(keys) and not admin_keys:
        raise FraudOpsError(
            "no API key: set FRAUDOPS_API_KEYS (comma-separated), e.g. export FRAUDOPS_API_KEYS="
            "$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    short = sum(1 for key in (*keys, *admin_keys) if len(key) < MIN_KEY_CHARS)
    if short:
        raise FraudOpsError(
            f"{short} API key(s) shorter than {MIN_KEY_CHARS} characters: keys must have at "
            f"least {MIN_KEY_CHARS}, e.g. $(python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')"
        )
    return keys, admin_keys


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": HEADER})


class ApiKeyAuth(APIKeyHeader):
    """The ``X-API-Key`` scheme (shown in /docs) that also checks the key, in one dependency.

    Client routes accept client and admin keys; admin routes only admin keys (a valid client
    key gets 403). The keys are the app's ``state.api_keys`` / ``state.admin_keys``.
    """

    def __init__(self, *, admin: bool) -> None:
        super().__init__(
            name=HEADER,
            scheme_name="AdminKey" if admin else "ApiKey",
            description="A key from FRAUDOPS_ADMIN_API_KEYS."
            if admin
            else "A key from FRAUDOPS_API_KEYS (or FRAUDOPS_ADMIN_API_KEYS).",
            auto_error=False,
        )
        self.admin = admin

    async def __call__(self, request: Request) -> str:
        """The key, once checked (401 missing or unknown, 403 not admin enough, 429 guessing)."""
        state = request.app.state
        client = request.client.host if request.client else "unknown"
        throttle: FailureThrottle = state.key_failures
        wait = throttle.wait(client)
        if wait:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "too many wrong API keys from this client; try again later",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        key = request.headers.get(HEADER)
        if not key:
            throttle.failed(client)
            raise _unauthorized(f"missing {HEADER} header")
        if key in state.admin_keys:
            return key
        if key in state.api_keys:
            if self.admin:
                raise HTTPException(status.HTTP_403_FORBIDDEN, "this route needs an admin API key")
            return key
        throttle.failed(client)
        raise _unauthorized("invalid API key")


require_api_key = ApiKeyAuth(admin=False)
require_admin_key = ApiKeyAuth(admin=True)
