"""/predict?explain=true and /predict/csv?explain=true: the same answers, with their reasons."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from fraudops import explain, lake, registry
from fraudops.cardhistory import enrich, sources
from fraudops.features import features_from_table
from fraudops.scoring import score_table
from tests.support.api import AUTH, as_json, transactions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rows() -> pa.Table:
    return transactions(150, seed=11)


@pytest.fixture(scope="module")
def offline(served_settings, rows):
    """The offline features of the rows, their scores and reasons by the production version."""
    table = lake.transactions_table(lake.open_catalog(served_settings))
    history = sources.from_lake(table, rows, snapshot_id=table.current_snapshot().snapshot_id)
    enriched = enrich(rows, history)
    scorer = registry.load_scorer(served_settings, "1")
    proba, flags = score_table(scorer, enriched)
    matrix = features_from_table(enriched)
    found = explain.explain_matrix(scorer, matrix, times=enriched["event_ts"].to_pylist())
    return proba, flags, found


def test_explain_gives_the_same_answers_and_their_reasons(client, rows, offline):
    resp = client.post("/predict?explain=true", json=as_json(rows), headers=AUTH)

    assert resp.status_code == 200, resp.text
    preds = resp.json()["predictions"]
    proba, flags, found = offline
    np.testing.assert_array_equal([p["fraud_probability"] for p in preds], proba)
    np.testing.assert_array_equal([p["is_fraud"] for p in preds], flags)
    for pred, expected in zip(preds, found, strict=True):
        assert [r["feature"] for r in pred["reasons"]] == [r.feature for r in expected]
        assert [r["text"] for r in pred["reasons"]] == [r.text for r in expected]
        contribs = [r["contribution"] for r in pred["reasons"]]
        assert contribs == sorted(contribs, reverse=True) and all(c > 0 for c in contribs)
    flagged = [p for p in preds if p["is_fraud"]]
    assert flagged and all(p["reasons"] for p in flagged)


def test_plain_predict_has_no_reasons(client, rows):
    resp = client.post("/predict", json=as_json(rows.slice(0, 2)), headers=AUTH)
    assert all(p.get("reasons") is None for p in resp.json()["predictions"])


def test_csv_with_explain_adds_a_reasons_column(client, rows, offline):
    sink = io.BytesIO()
    pacsv.write_csv(rows, sink)
    headers = {**AUTH, "Content-Type": "text/csv"}

    resp = client.post("/predict/csv?explain=true", content=sink.getvalue(), headers=headers)

    assert resp.status_code == 200, resp.text
    scored = pacsv.read_csv(io.BytesIO(resp.content))
    assert scored.column_names[-1] == "reasons"
    _, _, found = offline
    expected = ["; ".join(r.text for r in row) for row in found]
    got = [text or "" for text in scored["reasons"].to_pylist()]
    assert got == expected
