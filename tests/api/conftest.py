"""API fixtures: the app on the session's trained model, and a registry copy tests may change."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fraudops.api import create_app
from fraudops.config import Settings
from tests.support.api import RegistryCopy, api_settings, copy_registry


@pytest.fixture(scope="session")
def served_settings(
    trained_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The API's settings on the session's promoted model (its registry is only read)."""
    return api_settings(trained_settings.home, tmp_path_factory.mktemp("serving-cache"))


@pytest.fixture(scope="module")
def client(
    served_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The real app, lifespan run, serving the production model.

    Each module's app has a card-history store of its own, backfilled from the lake: what one
    module sends is not in another's card histories.
    """
    store = tmp_path_factory.mktemp("card-history") / "feature-store.db"
    settings = api_settings(
        served_settings.home, served_settings.serving_cache_dir, feature_store=str(store)
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def registry_copy(
    trained_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> RegistryCopy:
    """A private copy of the MLflow store, so tests can move the alias freely."""
    return copy_registry(trained_settings, tmp_path_factory.mktemp("registry-copy") / "home")
