"""The one settings object: read from the environment (prefix ``FRAUDOPS_``) and ``.env``.

Every embedded default lives under ``FRAUDOPS_HOME``: a SQLite Iceberg catalog, a local
warehouse folder, MLflow on SQLite with local artifacts and the inbox folders. Pointing the
same code at PostgreSQL, an S3 endpoint and an ``http://`` MLflow server is configuration only.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from fraudops.engine import Engine
from fraudops.errors import FraudOpsError


class Settings(BaseSettings):
    """FraudOps settings; unset locations derive from ``home``."""

    model_config = SettingsConfigDict(
        env_prefix="FRAUDOPS_", env_file=".env", extra="ignore", validate_default=True
    )

    home: Path = Field(Path(".fraudops"), description="Root of every embedded default.")

    # lake
    catalog_uri: str | None = Field(
        None, description="SQLAlchemy URI of the Iceberg SQL catalog (default: SQLite in home)."
    )
    warehouse: str | None = Field(
        None, description="Iceberg warehouse: a folder or s3://bucket/prefix (default: in home)."
    )
    s3_endpoint: str | None = Field(None, description="S3 endpoint URL (MinIO, moto, AWS).")
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"

    # tracking and registry
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI (default: SQLite in home)."
    )
    experiment: str = "fraud-detection"
    model_name: str = "fraud-detector"
    model_alias: str = "production"

    # data generation
    start_date: dt.date = dt.date(2026, 1, 1)
    days: int = Field(30, ge=1)
    rows_per_day: int = Field(20_000, ge=100)
    fraud_rate: float = Field(0.01, gt=0.0, lt=0.5)
    seed: int = 42
    drift_from: dt.date | None = Field(None, description="From this day on, generate drift.")

    # labels and training
    label_maturity_days: int = Field(
        7,
        ge=1,
        description="A transaction older than this with no label event counts as legitimate; "
        "a younger one with none is left out of training and evaluation.",
    )
    alert_budget: int = Field(
        100,
        ge=1,
        description="Alerts per day analysts can review: training picks the threshold that "
        "saves the most within it (precision/recall@budget).",
    )
    false_alarm_cost: float = Field(
        10.0,
        ge=0,
        description="Cost of one false alarm (a review, a customer called); a missed fraud "
        "costs its amount.",
    )
    holdout_days: int = Field(4, ge=1, description="Most recent days kept for the gate.")
    valid_days: int = Field(4, ge=1, description="Days before the holdout, for early stopping.")
    promotion_margin: float = Field(
        0.0,
        description="The candidate must save at least the champion's cost a day less this "
        "(on the fresh holdout, at the alert budget) to be promoted.",
    )
    promotion_floor: float = Field(0.3, description="Candidate AP must be at least this.")
    manual_promotion: bool = Field(
        False,
        description="A candidate that passes the gate becomes @challenger and waits for a "
        "person's `fraudops approve` (or the approval step in Airflow) to reach production.",
    )
    shadow_days: float = Field(0.0, ge=0.0, description="Days in shadow before approval; 0: off.")

    # monitoring
    retrain_cooldown_days: int = Field(
        7,
        ge=0,
        description="An alarm retrains only if the last training's label cut-off is at least "
        "this many days before the day checked (new labels take time to mature).",
    )
    monitor_window_days: int = Field(1, ge=1, description="Event days a drift check looks at.")
    decay_window_days: int = Field(
        7, ge=1, description="Matured event days a decay check looks at."
    )
    drift_psi: float = Field(
        0.2, gt=0, description="PSI of a feature or the score above which the model drifts."
    )
    decay_margin: float = Field(
        0.1, gt=0, description="Matured AP or recall@budget this far below the holdout's: decay."
    )
    monitor_min_rows: int = Field(1_000, ge=1, description="Fewer predictions: no drift verdict.")
    monitor_min_frauds: int = Field(
        400, ge=1, description="Fewer matured frauds: no decay verdict (AP is noisy below)."
    )
    feature_store: str | None = Field(
        None,
        description="Card-history store: redis://[:password@]host:6379/0 (Valkey or Redis), "
        "or a SQLite file (default: home/feature-store.db).",
    )
    feature_store_checkpoint_seconds: float = Field(
        1.0, ge=0, description="API's SQLite store checkpoints, off requests (0: SQLite's own)."
    )
    pushgateway_url: str | None = Field(
        None,
        description="Prometheus Pushgateway for batch jobs' figures (checks, inbox runs).",
    )

    # inbox
    inbox: str | None = Field(None, description="Inbox root: a folder or s3://bucket/prefix.")
    inbox_chunk_rows: int = Field(
        100_000, ge=1, description="Rows validated and scored at a time (bounds memory)."
    )
    inbox_explain: bool = Field(
        False, description="Add each row's top reasons (a `reasons` column) to scored files."
    )
    inbox_lock_seconds: int = Field(
        900, ge=10, description="Lease of the S3 inbox lock; a run renews it while it works."
    )

    # serving API
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Keys accepted in X-API-Key (comma-separated)."
    )
    admin_api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Keys for the admin routes, e.g. POST /model/reload."
    )
    api_key_failures: int = Field(
        10, ge=1, description="Wrong keys a client may send per minute before a 429."
    )
    api_max_header_bytes: int = Field(
        32 * 1024, ge=1024, description="Largest request head (request line and headers); 431."
    )
    api_max_headers: int = Field(100, ge=10, description="Most header fields; 431 above.")
    api_header_timeout: float = Field(
        10.0, gt=0, description="Seconds a client has to send a request head; then 408."
    )
    api_body_timeout: float = Field(
        30.0, gt=0, description="Seconds a request body may stall between reads; then 408."
    )
    api_max_concurrency: int = Field(
        512, ge=1, description="Connections and requests per worker before a fast 503."
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_workers: int = Field(1, ge=1, description="uvicorn worker processes.")
    model_poll_seconds: float = Field(10.0, gt=0, description="How often the API reads the alias.")
    max_batch: int = Field(1000, ge=1, description="Most transactions in one POST /predict.")
    batch_max_rows: int = Field(
        256, ge=1, description="Most transactions a worker scores in one /predict batch."
    )
    batch_max_wait_us: float = Field(
        500.0,
        ge=0,
        description="Longest a /predict batch keeps gathering requests after its first (µs).",
    )
    max_body_bytes: int = Field(2 * 1024**2, ge=1024, description="Largest JSON body (413 above).")
    max_csv_bytes: int = Field(64 * 1024**2, ge=1024, description="Largest CSV body (413 above).")
    prediction_log: bool = Field(
        True, description="Log every prediction of the API to fraud.predictions."
    )
    prediction_log_seconds: float = Field(
        10.0, gt=0, description="How often the API commits its buffered predictions."
    )
    prediction_log_max_rows: int = Field(
        1_000_000, ge=1_000, description="Predictions kept while the lake is away (then dropped)."
    )
    serving_cache: Path | None = Field(
        None, description="Local copies of served models (default: home/serving-cache)."
    )

    @field_validator("api_keys", "admin_api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        """Comma-separated keys from the environment; blanks are dropped."""
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    # compute engine
    engine: Engine = Field(
        Engine.IN_PROCESS,
        description="Where generate, score-inbox and train run: in-process or spark.",
    )
    spark_master: str = Field(
        "local[*]",
        # FRAUDOPS_SPARK_MASTER first: what `fraudops airflow` hands its tasks
        validation_alias=AliasChoices("spark_master", "FRAUDOPS_SPARK_MASTER", "SPARK_MASTER_URL"),
        description="Spark master URL (SPARK_MASTER_URL): local[N] or spark://host:7077.",
    )
    spark_driver_memory: str = Field("1g", description="Memory of the Spark driver JVM.")
    spark_executor_memory: str = Field("1g", description="Memory of each Spark executor.")

    # orchestration
    dags_folder: Path | None = Field(
        None, description="DAG files for `fraudops airflow` (default: the repo's airflow/dags)."
    )

    @property
    def home_dir(self) -> Path:
        """``home`` as an absolute path."""
        return self.home.expanduser().resolve()

    @property
    def catalog_url(self) -> str:
        """The Iceberg catalog URI, defaulting to SQLite under home."""
        return self.catalog_uri or f"sqlite:///{self.home_dir / 'lake' / 'catalog.db'}"

    @property
    def warehouse_url(self) -> str:
        """The Iceberg warehouse location, defaulting to a folder under home."""
        return self.warehouse or (self.home_dir / "lake" / "warehouse").as_uri()

    @property
    def tracking_url(self) -> str:
        """The MLflow tracking URI, defaulting to SQLite under home."""
        return self.tracking_uri or f"sqlite:///{self.home_dir / 'mlflow' / 'mlflow.db'}"

    @property
    def artifact_location(self) -> str | None:
        """Where a new experiment keeps artifacts on the embedded store (None: server decides)."""
        if self.tracking_uri:
            return None
        return (self.home_dir / "mlflow" / "artifacts").as_uri()

    @property
    def serving_cache_dir(self) -> Path:
        """Where the API keeps the last good models, defaulting to a folder under home."""
        return (self.serving_cache or self.home_dir / "serving-cache").expanduser().resolve()

    @property
    def feature_store_url(self) -> str:
        """The card-history store: a redis:// URL or a SQLite file (default under home)."""
        return self.feature_store or str(self.home_dir / "feature-store.db")

    @property
    def inbox_url(self) -> str:
        """The inbox root, defaulting to a folder under home."""
        return self.inbox or str(self.home_dir / "inbox")

    @property
    def s3_options(self) -> dict[str, str]:
        """S3 connection options in pyiceberg's property names (empty when unset)."""
        opts: dict[str, str] = {}
        if self.s3_endpoint:
            opts["s3.endpoint"] = self.s3_endpoint
        if self.s3_access_key:
            opts["s3.access-key-id"] = self.s3_access_key
        if self.s3_secret_key:
            opts["s3.secret-access-key"] = self.s3_secret_key
        if self.s3_endpoint or self.s3_access_key:
            opts["s3.region"] = self.s3_region
        return opts

    def ensure_home(self) -> Path:
        """Create the home folders the embedded defaults need; fail with one clear message."""
        home = self.home_dir
        try:
            for sub in ("lake/warehouse", "mlflow/artifacts"):
                (home / sub).mkdir(parents=True, exist_ok=True)
            probe = home / f".write-test-{uuid.uuid4().hex}"  # its own: others may check too
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise FraudOpsError(
                f"FRAUDOPS_HOME={home} is not writable ({exc.strerror or exc}); "
                "set FRAUDOPS_HOME to a folder you can write to."
            ) from exc
        if not os.access(home, os.W_OK):
            raise FraudOpsError(f"FRAUDOPS_HOME={home} is not writable.")
        return home


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
