"""A training run's data as MLflow sees it: the lake snapshot and label cut-off as its input.

MLflow's UI then shows, in a run's Dataset column, which snapshot of which table (and which
labels) trained it. Imported by training only: it loads MLflow's dataset classes.
"""

from __future__ import annotations

from typing import Any

import mlflow
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.meta_dataset import MetaDataset


class LakeSnapshot(DatasetSource):
    """A pinned snapshot of a lake table and the label cut-off, as a run's dataset source."""

    def __init__(self, tags: dict[str, str]) -> None:
        self.tags = {k.removeprefix("fraudops."): v for k, v in tags.items()}

    @staticmethod
    def _get_source_type() -> str:
        return "iceberg"

    def load(self) -> Any:
        """Not loaded through MLflow: ``fraudops.lake`` reads the snapshot."""
        raise NotImplementedError("read it with fraudops.lake.pin(snapshot_id=...)")

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> LakeSnapshot:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """What the MLflow UI shows as the dataset's source."""
        keys = ("lake_table", "snapshot_id", "labels_snapshot_id", "label_cutoff")
        return {key: self.tags.get(key) for key in (*keys, "date_from", "date_to")}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> LakeSnapshot:
        """The source read back from a run."""
        return cls({str(k): str(v) for k, v in source_dict.items()})


def log_lake_input(tags: dict[str, str]) -> None:
    """Log the lake snapshot and label cut-off as the active run's training dataset."""
    source = LakeSnapshot(tags)
    name = f"{tags.get('fraudops.lake_table')}@{tags.get('fraudops.snapshot_id')}"
    # profile is optional (None) at run time; mypy reads it as abstract
    dataset = MetaDataset(source, name=name)  # type: ignore[abstract]
    mlflow.log_input(dataset, context="training")
