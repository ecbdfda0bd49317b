"""X-API-Key: required on predict and model routes (admin key for reload); health is open."""

from __future__ import annotations

import pytest

from fraudops.schema import EXAMPLE_TRANSACTION as TX
from tests.support.api import ADMIN, AUTH

pytestmark = pytest.mark.slow

PROTECTED = [
    ("POST", "/predict"),
    ("POST", "/predict/csv"),
    ("GET", "/model"),
    ("POST", "/model/reload"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "missing X-API-Key header"), ({"X-API-Key": "not-a-key"}, "invalid API key")],
    ids=["no key", "wrong key"],
)
def test_missing_or_wrong_key_is_401(client, method, path, headers, message):
    resp = client.request(method, path, json=TX, headers=headers)

    assert resp.status_code == 401, resp.text
    assert resp.json()["detail"] == message
    assert resp.headers["WWW-Authenticate"] == "X-API-Key"


def test_client_key_cannot_reload(client):
    resp = client.post("/model/reload", headers=AUTH)

    assert resp.status_code == 403


def test_admin_key_reloads_and_predicts(client):
    reload = client.post("/model/reload", headers=ADMIN)
    assert reload.status_code == 200, reload.text
    assert reload.json() == {"changed": False, "version": "1", "previous_version": None}

    assert client.post("/predict", json=TX, headers=ADMIN).status_code == 200


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/metrics", "/docs"])
def test_health_metrics_and_docs_are_open(client, path):
    assert client.get(path).status_code == 200


def test_docs_offer_the_key(client):
    spec = client.get("/openapi.json").json()

    schemes = spec["components"]["securitySchemes"]
    assert {s["name"] for s in schemes.values()} == {"X-API-Key"}
    assert spec["paths"]["/predict"]["post"]["security"] == [{"ApiKey": []}]
    assert spec["paths"]["/model/reload"]["post"]["security"] == [{"AdminKey": []}]
