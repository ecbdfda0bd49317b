"""Make MLflow's basic-auth users match the passwords in the environment (.env).

Runs before ``mlflow server`` in the container. Creates the admin and one user per client service
(``airflow`` trains and promotes, ``api`` only reads) and resets a password that differs from the
environment, so rotating a secret in .env and restarting is all it takes. Idempotent.

The API user gets nothing but ``default_permission = READ``. The Airflow user owns what it creates
(MLflow grants MANAGE to the creator of an experiment or registered model); an experiment someone
else created must be shared with it from the admin UI.
"""

from __future__ import annotations

import os
import sys

from mlflow.server.auth import auth_config
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

# (username, password variable, is admin); the admin's name is configurable like MLflow's own.
USERS = (
    (os.environ.get("MLFLOW_AUTH_ADMIN_USERNAME") or "admin", "MLFLOW_AUTH_ADMIN_PASSWORD", True),
    ("airflow", "MLFLOW_AIRFLOW_PASSWORD", False),
    ("api", "MLFLOW_API_PASSWORD", False),
)


def main() -> int:
    """Create or update every user; return the process exit code."""
    missing = [pw_var for _, pw_var, _ in USERS if not os.environ.get(pw_var)]
    if missing:
        print(f"mlflow bootstrap: {', '.join(missing)} not set: run make env", file=sys.stderr)  # noqa: T201
        return 1

    store = SqlAlchemyStore()
    store.init_db(auth_config.database_uri)  # also runs the auth schema migrations
    for username, pw_var, is_admin in USERS:
        password = os.environ[pw_var]
        if not store.has_user(username, use_primary=True):
            store.create_user(username, password, is_admin=is_admin)
            print(f"mlflow bootstrap: created user {username!r}")  # noqa: T201
        elif not store.authenticate_user(username, password, use_primary=True):
            store.update_user(username, password=password, is_admin=is_admin)
            print(f"mlflow bootstrap: reset the password of {username!r}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
