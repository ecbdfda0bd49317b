"""What every command shares: the Typer app, the consoles, settings, progress bars, errors.

Commands import the package's heavy modules (MLflow, XGBoost, pyiceberg) when they run, not
at the top: ``fraudops --help`` then answers without loading them.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fraudops.engine import Engine
from fraudops.errors import FraudOpsError

if TYPE_CHECKING:  # pydantic-settings and rich's progress load when a command runs
    from rich.progress import Progress

    from fraudops.config import Settings

app = typer.Typer(
    help="FraudOps: synthetic transactions -> Iceberg lake -> XGBoost in MLflow -> promotion.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)

# A command's imports (MLflow, XGBoost, scikit-learn, pyiceberg) make a million objects that live
# until it exits. At CPython's threshold (a collection every 700 new objects) the collector
# walks them again and again while they load: a command collects every 50,000 instead. A
# server goes back to CPython's thresholds: the API freezes its model's objects once loaded
# instead (fraudops.api.holder).
CPYTHON_COLLECTION = gc.get_threshold()
COMMAND_COLLECTION = (50_000, 20, 100)


@app.callback()
def _quiet_mlflow() -> None:
    # our own progress displays say what runs; MLflow's INFO lines (table migrations,
    # "registered model exists") and per-download bars would drown them
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # nothing fetches from the internet at run time: MLflow's usage telemetry (read when
    # mlflow is imported) would call its servers, and join its threads at every exit
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


out = Console()
T = TypeVar("T")


def get_settings() -> Settings:
    """The cached settings; pydantic-settings loads here, not when the CLI starts."""
    from fraudops.config import get_settings as cached

    return cached()


def settings() -> Settings:
    """The settings, or one clear error naming what is wrong with them."""
    try:
        return get_settings()
    except Exception as exc:  # pydantic's ValidationError: show it as a settings problem
        raise FraudOpsError(f"invalid settings: {exc}") from exc


EngineOption = Annotated[
    Engine | None,
    typer.Option(
        case_sensitive=False,
        help="in-process or spark (master: SPARK_MASTER_URL); default FRAUDOPS_ENGINE.",
    ),
]


def settings_for(engine: Engine | None) -> Settings:
    """The settings, with the engine a command was asked to use."""
    base = settings()
    return base if engine is None else base.model_copy(update={"engine": engine})


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A progress display on stderr (stdout stays for results)."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        yield progress


def facts(title: str) -> Table:
    """A table of named facts; a long value (a path, a URI) wraps, never cut short."""
    table = Table(title=title, show_header=False)
    table.add_column()
    table.add_column(overflow="fold")
    return table


def safe(text: object) -> str:
    """Text from outside (file names, reasons) shown literally: no markup, no escape codes."""
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))
    return escape(shown)


def guarded(fn: Callable[[], T]) -> T:
    """Run ``fn``; a user-fixable error becomes one red line and exit code 2.

    User-fixable: ours (:class:`FraudOpsError`), and MLflow's "not found" (a version number
    that does not exist: ``fraudops promote --version 99``).
    """
    try:
        return fn()
    except FraudOpsError as exc:
        console.print(f"[bold red]error:[/] {safe(exc)}")
        raise SystemExit(2) from None
    except Exception as exc:
        mlflow_errors = sys.modules.get("mlflow.exceptions")  # loaded if MLflow raised it
        missing = mlflow_errors and isinstance(exc, mlflow_errors.MlflowException)
        if not missing or exc.error_code != "RESOURCE_DOES_NOT_EXIST":  # type: ignore[attr-defined]
            raise
        console.print(f"[bold red]error:[/] {safe(exc.message)}")  # type: ignore[attr-defined]
        raise SystemExit(2) from None
