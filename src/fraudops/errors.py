"""Errors that the CLI, the API and the DAGs report as one clear message."""


class FraudOpsError(Exception):
    """A problem the user can fix (settings, reachability, input); shown without a traceback."""
