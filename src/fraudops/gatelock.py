"""The promotion gate's lock: one gate at a time, across processes and hosts.

The lock is a registered model ``<name>.gate-lock`` that exists while a gate runs; the gate
(:mod:`fraudops.registry`) and approvals and rollbacks (:mod:`fraudops.release`) hold it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

from fraudops.config import Settings
from fraudops.errors import FraudOpsError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

GATE_LOCK = ".gate-lock"  # the registered model that exists while a gate runs
GATE_LEASE = 600.0  # seconds a gate may hold it (and another wait for it)


@contextmanager
def gate_lock(client: MlflowClient, settings: Settings) -> Iterator[None]:
    """One promotion gate at a time, across processes and hosts.

    The lock is a registered model ``<name>.gate-lock``, there while a gate runs: the
    registry creates a name only once, so two gates never both hold it. A gate that died
    leaves it behind; it is removed once its lease has run out.
    """
    from mlflow.exceptions import MlflowException

    lock = settings.model_name + GATE_LOCK
    deadline = time.monotonic() + GATE_LEASE
    while True:
        expires = f"{time.time() + GATE_LEASE:.0f}"
        try:
            client.create_registered_model(
                lock,
                tags={"expires_at": expires},
                description=("Held while a promotion gate runs (fraudops)."),
            )
            break
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        if not _lapsed(client, lock):
            if time.monotonic() > deadline:
                raise FraudOpsError(f"another promotion still holds {lock}; try again later")
            time.sleep(0.5)
    try:
        yield
    finally:
        with suppress(MlflowException):
            client.delete_registered_model(lock)


def _lapsed(client: MlflowClient, lock: str) -> bool:
    """Remove a lock whose lease ran out (its gate died); whether it is gone now."""
    from mlflow.exceptions import MlflowException

    try:
        if float(client.get_registered_model(lock).tags.get("expires_at", "0")) > time.time():
            return False
        client.delete_registered_model(lock)
    except MlflowException:
        pass  # released, or removed by another gate, meanwhile
    return True
