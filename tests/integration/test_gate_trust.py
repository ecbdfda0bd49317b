"""The gate trusts no pickle and no stranger: native boosters only, training lineage required.

A registered version whose ``python_model.pkl`` runs code when unpickled must never run it
inside the gate (in the stack: the scheduler, with the lake's delete rights and the login
that moves ``@production``).
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import mlflow
import pytest

from fraudops import registry, tracking
from fraudops.config import Settings
from tests.support.api import copy_registry

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class _Trap:
    """Unpickling this writes a file: proof that the pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))  # creating the file is enough


@pytest.fixture
def home(trained_settings: Settings, tmp_path: Path) -> Settings:
    """A private copy of the trained registry (v1 @production, v2 its twin, v3 broken)."""
    copy = copy_registry(trained_settings, tmp_path / "home")
    # the lake of the trained home: the gate's holdout
    return copy.settings(tmp_path / "cache").model_copy(
        update={
            "catalog_uri": trained_settings.catalog_url,
            "warehouse": trained_settings.warehouse_url,
        }
    )


def _crafted_version(settings: Settings, marker: Path, tmp: Path, *, with_lineage: bool) -> str:
    """A copy of v1's model files whose python_model.pkl is a trap, registered as a version."""
    client = tracking.connect(settings)
    v1 = client.get_model_version(settings.model_name, "1")
    files = Path(mlflow.artifacts.download_artifacts(artifact_uri=v1.source, dst_path=str(tmp)))
    shutil.rmtree(files / "python_model.pkl", ignore_errors=True)
    (files / "python_model.pkl").write_bytes(pickle.dumps(_Trap(marker)))
    version = client.create_model_version(settings.model_name, source=str(files))
    if with_lineage:
        for key, value in (v1.tags or {}).items():
            decided = key.startswith(("fraudops.gate.", "fraudops.history."))
            if key.startswith("fraudops.") and not decided:
                client.set_model_version_tag(settings.model_name, version.version, key, value)
    return str(version.version)


def test_a_version_without_training_lineage_is_refused_unread(home: Settings, tmp_path: Path):
    marker = tmp_path / "ran.txt"
    version = _crafted_version(home, marker, tmp_path / "a", with_lineage=False)

    decision = registry.promote(home, version=version)

    assert not decision.promote
    assert "lineage" in decision.reason
    assert not marker.exists()
    production = registry.alias_version(tracking.connect(home), home.model_name, "production")
    assert production is not None and str(production.version) == "1"


def test_the_gate_scores_the_native_booster_never_the_pickle(home: Settings, tmp_path: Path):
    marker = tmp_path / "ran.txt"
    version = _crafted_version(home, marker, tmp_path / "b", with_lineage=True)

    decision = registry.promote(home, version=version)

    assert not marker.exists()  # scored, and not a line of the pickle ran
    assert decision.candidate_ap == pytest.approx(decision.champion_ap)  # the same booster
    assert decision.promote
