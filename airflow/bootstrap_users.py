"""Make Airflow's FAB users match the logins in the environment (.env).

Runs in the airflow-init job after the migrations. Creates the admin (role Admin) and the
read-only user (role Viewer: reads DAGs, runs and logs; triggers, pauses and edits nothing),
resets a password that differs from the environment and gives each user exactly its role, so
rotating a secret in .env and running `make up` is all it takes. Idempotent.

One process for both users: each `airflow users ...` command would start Airflow again.
"""

from __future__ import annotations

import os
import sys

from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

# (username variable, default username, password variable, FAB role)
USERS = (
    ("AIRFLOW_ADMIN_USERNAME", "admin", "AIRFLOW_ADMIN_PASSWORD", "Admin"),
    ("AIRFLOW_VIEWER_USERNAME", "viewer", "AIRFLOW_VIEWER_PASSWORD", "Viewer"),
)


def say(message: str) -> None:
    """One line of the job's log."""
    print(f"airflow-init: {message}", flush=True)  # noqa: T201


def main() -> int:
    """Create or update every user; return the process exit code."""
    missing = [pw_var for _, _, pw_var, _ in USERS if not os.environ.get(pw_var)]
    if missing:
        say(f"{', '.join(missing)} not set: run make env")
        return 1
    logins = [(os.environ.get(var) or default, pw, role) for var, default, pw, role in USERS]
    if len({username.lower() for username, _, _ in logins}) != len(logins):
        say("the admin and the viewer need different user names")
        return 1

    # Building the app also creates FAB's default roles (Admin, Op, User, Viewer, Public).
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        for username, pw_var, role_name in logins:
            password = os.environ[pw_var]
            role = sm.find_role(role_name)
            if role is None:
                say(f"FAB has no role {role_name!r}")
                return 1
            user = sm.find_user(username=username)
            if user is None:
                # FAB wants a unique e-mail address; change it in the UI (Security > Users).
                email = f"{username}@example.com"
                sm.add_user(username, username, "FraudOps", email, role, password)
                say(f"created {role_name} user {username!r}")
                continue
            if not sm.check_password(username, password):
                sm.reset_password(user.id, password)
                say(f"reset the password of {username!r}")
            if [r.name for r in user.roles] != [role_name]:
                user.roles = [role]
                sm.update_user(user)
                say(f"{username!r} has the role {role_name} only again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
