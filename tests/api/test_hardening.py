"""Nothing a client can send stops the API or learns its internals (defects found by review)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from fraudops.api import create_app
from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.procs import free_port
from fraudops.schema import EXAMPLE_TRANSACTION as TX
from tests.support.api import AUTH, api_settings, transactions

pytestmark = pytest.mark.slow

JSON = {**AUTH, "Content-Type": "application/json"}
CSV = {**AUTH, "Content-Type": "text/csv"}


def test_many_empty_objects_get_a_small_422(client: TestClient) -> None:
    body = json.dumps([{}] * 1_000).encode()  # 3 KB, 18,000 problems

    resp = client.post("/predict", content=body, headers=JSON)

    assert resp.status_code == 422
    assert len(resp.content) < 50_000
    detail = resp.json()["detail"]
    assert len(detail) == 101
    assert detail[-1]["msg"] == "17900 more problem(s) not listed"


def test_a_csv_with_many_columns_is_refused_before_parsing(client: TestClient) -> None:
    names = ",".join(f"c{i}" for i in range(190_000))  # 1.3 MB of header

    resp = client.post("/predict/csv", content=(names + "\n").encode(), headers=CSV)

    assert resp.status_code == 422, resp.text
    assert "columns" in resp.json()["detail"][0]["msg"]


FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"]


def test_spreadsheet_formulas_are_neutralised_in_the_scored_csv(client: TestClient) -> None:
    table = transactions(len(FORMULAS))
    table = table.set_column(0, "transaction_id", pa.array(FORMULAS))
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)

    resp = client.post("/predict/csv", content=sink.getvalue(), headers=CSV)

    assert resp.status_code == 200, resp.text
    rows = list(csv.reader(io.StringIO(resp.text)))[1:]
    assert [row[0] for row in rows] == ["'" + f for f in FORMULAS]


@pytest.fixture
def unreachable_registry(tmp_path: Path) -> Settings:
    uri = f"http://admin:s3cr3t-pass@127.0.0.1:{free_port()}"
    return api_settings(tmp_path / "home", tmp_path / "cache", tracking_uri=uri)


def test_open_endpoints_never_show_credentials(unreachable_registry: Settings) -> None:
    with TestClient(create_app(unreachable_registry)) as client:
        ready = client.get("/health/ready")
        predict = client.post("/predict", json=TX, headers=AUTH)
        model = client.get("/model", headers=AUTH)

    assert ready.status_code == predict.status_code == model.status_code == 503
    for resp in (ready, predict, model):
        assert "s3cr3t" not in resp.text
    assert "registry" in ready.json()["detail"]


@pytest.mark.parametrize("key", ["k", "short-key-123"])
def test_short_api_keys_are_refused_at_start(tmp_path: Path, key: str) -> None:
    settings = api_settings(tmp_path / "home", tmp_path / "cache").model_copy(
        update={"api_keys": [SecretStr(key)]}
    )

    with pytest.raises(FraudOpsError, match="at least 16"):
        create_app(settings)


def test_wrong_keys_are_throttled(served_settings: Settings) -> None:
    with TestClient(create_app(served_settings)) as client:
        codes = [
            client.post("/predict", json=TX, headers={"X-API-Key": f"guess-{i:012d}"}).status_code
            for i in range(30)
        ]
        blocked = client.post("/predict", json=TX, headers={"X-API-Key": "guess-again-0000"})

    assert codes[:10] == [401] * 10
    assert set(codes[10:]) == {429}
    assert int(blocked.headers["Retry-After"]) > 0


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_load_nothing_from_the_internet(client: TestClient, path: str) -> None:
    page = client.get(path)

    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    urls += re.findall(r"""url: ?["']([^"']+)["']""", page.text)
    assert urls
    for url in urls:
        assert not url.startswith(("http:", "https:", "//")), url
        assert client.get(url).status_code == 200, url
