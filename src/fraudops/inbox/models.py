"""The models a run scores with: each file pins a version, loaded once per run."""

from __future__ import annotations

from fraudops import modelimports, registry
from fraudops.config import Settings
from fraudops.scoring import FraudScorer


class Scorers:
    """Versions loaded so far in a run; ``production`` is read once, at first need."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loaded: dict[str, FraudScorer] = {}
        self.production: str | None = None

    def get(self, version: str | None) -> tuple[FraudScorer, str]:
        """The pinned version's scorer, or production's when nothing is pinned yet."""
        modelimports.before_model_load()
        if version is None:
            if self.production is None:
                scorer, self.production = registry.load_production_scorer(self.settings)
                self.loaded[self.production] = scorer
            version = self.production
        if version not in self.loaded:
            self.loaded[version] = registry.load_scorer(self.settings, version)
        return self.loaded[version], version
