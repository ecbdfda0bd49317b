"""The API's pure parts, no model needed: keys, errors, local model copies."""

from __future__ import annotations

import json

import pytest

from fraudops.api.auth import KeyRing, configured_keys, key_file
from fraudops.api.cache import ModelCache
from fraudops.api.schemas import error_items
from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.validation import Rejection
from tests.support.settings import make_settings


def test_error_items_keep_json_valid():
    items = error_items(
        [
            Rejection(0, "latitude", float("nan"), "t", "m"),
            Rejection(None, "body", ["x"] * 5000, "t", "m"),
        ]
    )

    assert items[0] == {
        "loc": ["body", 0, "latitude"],
        "field": "latitude",
        "msg": "m",
        "type": "t",
        "input": "nan",
    }
    assert "input" not in items[1]
    json.dumps(items, allow_nan=False)


def test_key_ring_membership():
    ring = KeyRing(["alpha", "beta", ""])

    assert "beta" in ring
    assert "gamma" not in ring
    assert "" not in ring
    assert None not in ring
    assert len(ring) == 2


def test_keys_from_comma_separated_environment(monkeypatch):
    monkeypatch.setenv("FRAUDOPS_API_KEYS", " k1, k2,,")
    monkeypatch.setenv("FRAUDOPS_ADMIN_API_KEYS", "")

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert [k.get_secret_value() for k in settings.api_keys] == ["k1", "k2"]
    assert settings.admin_api_keys == []
    assert "k1" not in repr(settings)


def test_keys_fall_back_to_the_generated_key_file(tmp_path):
    settings = make_settings(tmp_path / "home")
    with pytest.raises(FraudOpsError, match="FRAUDOPS_API_KEYS"):
        configured_keys(settings)

    key_file(settings).parent.mkdir(parents=True)
    key_file(settings).write_text("generated-key-0123456789\n")

    assert configured_keys(settings) == (["generated-key-0123456789"], [])


def _fill(path):
    path.mkdir()
    (path / "booster.ubj").write_bytes(b"x")


def test_model_cache_keeps_complete_copies_and_the_current_one(tmp_path):
    cache = ModelCache(tmp_path / "cache")
    assert cache.current() is None

    for version in ("1", "2", "3", "4"):
        folder = cache.store(
            version, meta={"version": version, "run_id": f"r{version}"}, fill=_fill
        )
        assert (folder / "scorer" / "booster.ubj").is_file()
    cache.mark_current("1")
    cache.prune(keep=2)

    assert cache.current() == cache.folder("1")
    assert cache.lookup("4", "r4") == cache.folder("4")
    assert cache.lookup("4", "another-run") is None
    assert cache.lookup("2", "r2") is None  # pruned
    assert sorted(p.name for p in cache.root.iterdir()) == ["current.json", "v1", "v3", "v4"]
