"""The world every scenario runs in: real services started once by the runner, a small lake
and three registered model versions.

* PostgreSQL: a throwaway cluster (``tests/support/services.py``) with a database for MLflow
  and one for the Iceberg catalog of the shared lake;
* ``mlflow server`` on that PostgreSQL, artifacts proxied to a local folder;
* the lake ``fraud.transactions`` (a few days), and versions 1, 2, 3 of ``fraud-detector``:
  a good model, a deliberately weak one and one trained on shuffled labels, each registered
  by the training code with its lineage; ``@production`` starts on version 1.

Scenarios that kill MLflow or restart PostgreSQL start their own instance (a second
``mlflow server`` on the same backend, a cluster of their own), so a fault never leaks into
the next scenario. ``python -m chaos._world prepare WORLD`` fills the lake and the registry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fraudops.config import Settings
from tests.support import services

CLIENT_KEY = "chaos-client-key-0123456789"
ADMIN_KEY = "chaos-admin-key-0123456789"
MODEL = "fraud-detector"
# a depth-1 model stopped early: clearly worse than the sweep's best, clearly above chance
WEAK_CONFIG = {"max_depth": 1, "learning_rate": 0.02, "min_child_weight": 50.0}


@dataclass
class World:
    """Where the shared services are, and what the registry holds."""

    root: str
    quick: bool
    pg: dict[str, Any]
    mlflow_backend: str
    artifacts: str
    tracking_uri: str
    lake_catalog: str
    versions: dict[str, str] = field(default_factory=dict)  # role -> version
    holdout_ap: dict[str, float] = field(default_factory=dict)  # version -> AP on the holdout
    # version -> cost saved a day on the holdout: what the gate compares
    holdout_saved: dict[str, float] = field(default_factory=dict)

    # -- files ------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        """Where the world is described (JSON)."""
        return Path(self.root) / "world.json"

    def save(self) -> None:
        """Write the description for the scenario processes."""
        self.path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> World:
        """The world a runner described."""
        return cls(**json.loads(path.read_text()))

    def workdir(self, name: str) -> Path:
        """A fresh folder for one scenario."""
        path = Path(self.root) / name
        path.mkdir(parents=True, exist_ok=False)
        return path

    # -- settings ---------------------------------------------------------------------------
    def fields(self, **overrides: object) -> dict[str, object]:
        """Settings fields of the shared lake and registry (small data in --quick)."""
        days, rows = (12, 2_500) if self.quick else (14, 4_000)
        base: dict[str, object] = {
            "home": Path(self.root) / "home",
            "catalog_uri": self.lake_catalog,
            "warehouse": (Path(self.root) / "warehouse").as_uri(),
            "tracking_uri": self.tracking_uri,
            "days": days,
            "rows_per_day": rows,
            "valid_days": 2,
            "holdout_days": 2,
            "label_maturity_days": 2,  # labels known for all but the last 2 days
            "promotion_floor": 0.1,
            "api_keys": CLIENT_KEY,
            "admin_api_keys": ADMIN_KEY,
        }
        return {**base, **overrides}

    def settings(self, **overrides: object) -> Settings:
        """Settings for this process (never a developer's .env)."""
        return Settings(_env_file=None, **self.fields(**overrides))  # type: ignore[arg-type]

    def env(self, **overrides: object) -> dict[str, str]:
        """The environment of a ``fraudops`` subprocess with the same settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDOPS_")}
        for key, value in self.fields(**overrides).items():
            if value is not None:
                env[f"FRAUDOPS_{key.upper()}"] = str(value)
        return env

    def client(self) -> Any:
        """An MLflow client of the shared server."""
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def database(self, name: str) -> str:
        """A new database in the shared cluster (``name`` and a unique suffix); its URI."""
        return services.create_database(self.pg, f"{name}_{uuid.uuid4().hex[:8]}")

    def mlflow_instance(self, log: Path) -> services.MlflowServer:
        """Another ``mlflow server`` on the same backend (the same registry), not started."""
        return services.MlflowServer(self.mlflow_backend, Path(self.artifacts), log=log)


def fraudops_bin() -> str:
    """The ``fraudops`` command of this virtualenv."""
    return str(Path(sys.executable).with_name("fraudops"))


@contextmanager
def started(root: Path, *, quick: bool) -> Iterator[World]:
    """Start PostgreSQL and ``mlflow server``, fill the lake and registry; stop them after."""
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with services.postgres_cluster(root / "pg") as pg:
        backend = services.create_database(pg, "mlflow")
        server = services.MlflowServer(backend, root / "artifacts", log=logs / "mlflow.log")
        try:
            server.start()
            world = World(
                root=str(root),
                quick=quick,
                pg=dict(pg),
                mlflow_backend=backend,
                artifacts=str(root / "artifacts"),
                tracking_uri=server.uri,
                lake_catalog=services.create_database(pg, "lake"),
            )
            world.save()
            with open(logs / "prepare.log", "wb") as log:
                done = subprocess.run(
                    [sys.executable, "-m", "chaos._world", "prepare", str(world.path)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=Path(__file__).parents[1],
                    check=False,
                )
            if done.returncode:
                tail = (logs / "prepare.log").read_text()[-2000:]
                raise RuntimeError(f"preparing the lake and registry failed:\n{tail}")
            yield World.load(world.path)
        finally:
            server.stop()


def prepare(world: World) -> None:
    """Generate the lake; train and register the three versions; measure them on the holdout."""
    from fraudops import generate, registry, tracking, train
    from fraudops.cardhistory.backfill import backfill

    settings = world.settings()
    generate.generate(settings)
    backfill(settings)  # the APIs' card-history store (one SQLite file they share)
    client = tracking.connect(settings)
    sweeps = {
        "good": train.train_sweep(settings, configs=train.SWEEP[1:2]),
        "weak": train.train_sweep(settings, configs=(WEAK_CONFIG,)),
        "shuffled": train.train_sweep(settings, configs=train.SWEEP[:1], shuffle_labels=True),
    }
    for role, result in sweeps.items():
        version = registry.register(
            client, settings, model_uri=result.model_uri, run_id=result.best_run_id
        )
        world.versions[role] = version
    client.set_registered_model_alias(MODEL, settings.model_alias, world.versions["good"])
    holdout, _ = registry.holdout_from_lake(settings)
    for version in world.versions.values():
        score = registry.score_version(settings, version, holdout)
        world.holdout_ap[version], world.holdout_saved[version] = score.ap, score.saved_per_day
    print(f"versions {world.versions}, holdout AP {world.holdout_ap}, saved {world.holdout_saved}")
    # the two candidates must differ (the gate's order between them is what promotions checks)
    # and both beat the shuffled champion
    good, weak, shuffled = (world.holdout_saved[world.versions[r]] for r in sweeps)
    if not (good != weak and min(good, weak) > shuffled):
        raise RuntimeError(f"the versions are not ordered by cost saved: {world.holdout_saved}")
    world.save()


if __name__ == "__main__":
    if sys.argv[1:2] != ["prepare"] or len(sys.argv) != 3:
        sys.exit("usage: python -m chaos._world prepare WORLD_JSON")
    prepare(World.load(Path(sys.argv[2])))
