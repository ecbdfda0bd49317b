"""Training, registration and the promotion gate against a real ``mlflow server`` subprocess
with a PostgreSQL backend (a throwaway cluster started by the tests)."""

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from fraudops import generate, history, modelcard, registry, status, tracking, train
from fraudops.cardhistory import HISTORY_FEATURES, enrich
from fraudops.evaluation import evaluate
from fraudops.model import to_model_frame
from fraudops.scoring import FraudScorer, score_table
from tests.support.settings import make_settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server_settings(tmp_path_factory, mlflow_uri):
    s = make_settings(
        tmp_path_factory.mktemp("srv") / "home", tracking_uri=mlflow_uri, promotion_floor=0.0
    )
    generate.generate(s)
    return s


@pytest.fixture(scope="module")
def trained(server_settings):
    return train.train_sweep(server_settings)


def test_sweep_is_tracked_with_children_plots_and_lineage(server_settings, trained):
    client = MlflowClient(server_settings.tracking_url)
    parent = client.get_run(trained.parent_run_id)
    exp_id = parent.info.experiment_id
    assert client.get_experiment(exp_id).name == "fraud-detection"
    # the MLflow UI: opens on training runs, runs named for their data, the data as input
    assert client.get_experiment(exp_id).tags["mlflow.experimentKind"] == "custom_model_development"
    name = f"2026-01-01..2026-01-07 @ snapshot {trained.snapshot_id}"
    assert parent.info.run_name == name
    (data,) = parent.inputs.dataset_inputs
    source = json.loads(data.dataset.source)
    assert data.dataset.source_type == "iceberg"
    assert source["snapshot_id"] == str(trained.snapshot_id)
    assert source["label_cutoff"] == "2026-01-11T00:00:00+00:00"
    assert {t.key: t.value for t in data.tags}["mlflow.data.context"] == "training"
    children = client.search_runs(
        [exp_id], filter_string=f"tags.mlflow.parentRunId = '{trained.parent_run_id}'"
    )
    assert len(children) == len(train.SWEEP)
    assert sorted(c.info.run_name for c in children) == [f"{name} #{i}" for i in (1, 2, 3)]
    for child in children:
        m = child.data.metrics
        for key in (
            "average_precision",
            "roc_auc",
            "log_loss",
            "precision",
            "recall",
            "f1",
            "threshold",
            "precision_at_budget",
            "recall_at_budget",
            "alerts_per_day_at_threshold",
            "cost_saved_per_day",
        ):
            assert key in m, key
        assert {"max_depth", "learning_rate", "tree_method"} <= set(child.data.params)
        arts = {a.path for a in client.list_artifacts(child.info.run_id, "plots")}
        assert arts == {
            "plots/pr_curve.png",
            "plots/confusion_matrix.png",
            "plots/feature_importance.png",
            "plots/cost_curve.png",
        }
        # the threshold spends the alert budget on validation, never more
        assert child.data.metrics["alerts_per_day_at_threshold"] <= 40
        assert child.data.tags["fraudops.alert_budget"] == "40"
        tags = child.data.tags
        assert tags["fraudops.lake_table"] == "fraud.transactions"
        assert tags["fraudops.snapshot_id"] == str(trained.snapshot_id)
        # 10 days in the lake, 7 mature at the cut-off (maturity 3 days): 7 x 4,000 rows
        assert int(tags["fraudops.rows_in_snapshot"]) == 40_000
        assert int(tags["fraudops.rows"]) == 28_000
        assert 0.005 < float(tags["fraudops.fraud_rate"]) < 0.02
        assert (
            tags["fraudops.date_from"] == "2026-01-01" and tags["fraudops.date_to"] == "2026-01-07"
        )
        assert tags["fraudops.label_cutoff"] == "2026-01-11T00:00:00+00:00"
        assert 0.70 < float(tags["fraudops.label_coverage"]) < 0.75  # 7 mature days + reported
        assert tags["fraudops.labels_snapshot_id"] != "None"
        assert tags["fraudops.trigger"] == "manual"
        assert tags["fraudops.code_version"]
    best = max(children, key=lambda r: r.data.metrics["average_precision"])
    assert best.info.run_id == trained.best_run_id


def test_the_budget_threshold_raises_about_the_budgeted_alerts_on_the_holdout(trained):
    # chosen on the validation days, applied to the two holdout days: alerts a day near the
    # budget (40), and they pay: far more fraud caught than false alarms cost
    m = trained.holdout_metrics
    assert 0.7 * 40 <= m["alerts_per_day_at_threshold"] <= 1.3 * 40
    assert m["cost_saved_per_day"] > 0.3 * m["fraud_amount_per_day"]
    assert m["threshold"] == trained.metrics["threshold"]


def test_model_reaches_the_ap_floor_and_shuffled_labels_do_not(server_settings, trained):
    assert trained.holdout_metrics["average_precision"] >= 0.5
    control = train.train_sweep(server_settings, configs=train.SWEEP[:1], shuffle_labels=True)
    assert control.holdout_metrics["average_precision"] < 0.2
    assert (
        control.holdout_metrics["average_precision"]
        < trained.holdout_metrics["average_precision"] / 3
    )


def test_pyfunc_matches_our_scoring_path(server_settings, trained):
    holdout, _ = registry.holdout_from_lake(server_settings)
    pyfunc = mlflow.pyfunc.load_model(trained.model_uri)
    out = pyfunc.predict(to_model_frame(holdout))
    local = mlflow.artifacts.download_artifacts(
        f"runs:/{trained.best_run_id}/model/artifacts/scorer"
    )
    scorer = FraudScorer.load(Path(local))
    proba, _ = score_table(scorer, holdout)  # card histories from the lake, as in training
    # the pyfunc has no store: each row's history comes from the frame's own rows
    own = enrich(holdout.drop_columns(list(HISTORY_FEATURES)))
    own_proba, own_flag = score_table(scorer, own)
    np.testing.assert_allclose(out["fraud_probability"].to_numpy(), own_proba, rtol=1e-6)
    np.testing.assert_array_equal(out["is_fraud"].to_numpy(), own_flag.astype(int))
    y = holdout["is_fraud"].to_numpy()
    assert evaluate(y, proba, scorer.threshold)["average_precision"] == pytest.approx(
        trained.holdout_metrics["average_precision"], rel=1e-6
    )
    info = mlflow.models.get_model_info(trained.model_uri)
    assert (
        info.signature is not None and "transaction_amount" in info.signature.inputs.input_names()
    )
    assert not set(HISTORY_FEATURES) & set(info.signature.inputs.input_names())
    assert info.saved_input_example_info is not None


def test_gate_promotes_better_and_refuses_worse(server_settings, trained):
    client = tracking.connect(server_settings)
    name = server_settings.model_name
    # a first, bad production model: trained on shuffled labels (floor 0 lets it in)
    bad = train.train_sweep(server_settings, configs=train.SWEEP[:1], shuffle_labels=True)
    bad_v = registry.register(
        client, server_settings, model_uri=bad.model_uri, run_id=bad.best_run_id
    )
    first = registry.promote(server_settings, version=bad_v)
    assert first.promote and first.champion_version is None

    good_v = registry.register(
        client, server_settings, model_uri=trained.model_uri, run_id=trained.best_run_id
    )
    better = registry.promote(server_settings, version=good_v)
    assert better.promote, better
    assert better.champion_version == bad_v
    assert better.champion_ap is not None and better.candidate_ap > better.champion_ap
    assert str(registry.alias_version(client, name, "production").version) == good_v

    worse_v = registry.register(
        client, server_settings, model_uri=bad.model_uri, run_id=bad.best_run_id
    )
    worse = registry.promote(server_settings, version=worse_v)
    assert not worse.promote
    assert "<" in worse.reason
    assert str(registry.alias_version(client, name, "production").version) == good_v
    tags = client.get_model_version(name, worse_v).tags
    assert tags["fraudops.gate.decision"] == "rejected"
    assert float(tags["fraudops.gate.champion_ap"]) == pytest.approx(worse.champion_ap)
    assert tags["fraudops.gate.reason"] == worse.reason
    assert registry.alias_version(client, name, registry.CHALLENGER) is None

    now = status.status(server_settings)
    assert now.production is not None
    assert now.production.version == good_v
    assert now.production.snapshot_id == str(trained.snapshot_id)
    assert now.last_decision is not None and now.last_decision.verdict == "rejected"

    again = registry.promote(server_settings, version=good_v)  # production already: said so
    assert again.promote and f"version {good_v} is production already" in again.reason
    assert "no production model yet" not in again.reason
    assert str(registry.alias_version(client, name, "production").version) == good_v
    moves = [(e.version, e.previous) for e in history.events(client, server_settings) if e.moved]
    assert moves == [(bad_v, None), (good_v, bad_v)]  # the repeat moved nothing: not recorded

    # production moved by hand (the MLflow UI), then gated: the move is recorded once, from
    # the version the history last put there
    client.set_registered_model_alias(name, "production", bad_v)
    registry.promote(server_settings, version=bad_v)
    moves = [(e.version, e.previous) for e in history.events(client, server_settings) if e.moved]
    assert moves[-1] == (bad_v, good_v)
    registry.promote(server_settings, version=good_v)  # back, for the tests that follow


def test_the_model_card_is_the_versions_description_with_the_runs_figures(server_settings, trained):
    client = tracking.connect(server_settings)
    version = registry.register(
        client, server_settings, model_uri=trained.model_uri, run_id=trained.best_run_id
    )
    card = modelcard.publish(client, server_settings, version)

    assert client.get_model_version(server_settings.model_name, version).description == card
    logged = mlflow.artifacts.load_text(f"runs:/{trained.best_run_id}/{modelcard.CARD_FILE}")
    assert logged == card
    m = client.get_run(trained.best_run_id).data.metrics
    for figure in (
        f"threshold {m['threshold']:.4f}",
        f"precision@budget {m['holdout_precision_at_budget']:.4f}",
        f"recall@budget {m['holdout_recall_at_budget']:.4f}",
        f"cost saved a day {m['holdout_cost_saved_per_day']:,.2f}",
        f"alerts a day {m['holdout_alerts_per_day_at_threshold']:.1f}",
        f"average precision {m['holdout_average_precision']:.4f}",
        f"at snapshot `{trained.snapshot_id}`",
        "label coverage 7",  # 0.70-0.75: 7 mature days of 10 and the labels reported
        "plots/cost_curve.png",
        "## Known limits",
    ):
        assert figure in card, figure
    assert len(card) <= modelcard.MAX_DESCRIPTION


def test_a_registration_leaves_the_telling_to_its_caller(server_settings, trained, capsys):
    # MLflow's own lines were wrong in a new registry ("already exists": we had just made it)
    client = tracking.connect(server_settings)
    capsys.readouterr()
    version = registry.register(
        client, server_settings, model_uri=trained.model_uri, run_id=trained.best_run_id
    )
    printed = capsys.readouterr()
    assert "already exists" not in printed.err
    assert "Created version" not in printed.err
    tags = client.get_model_version(server_settings.model_name, version).tags
    assert tags["fraudops.run_id"] == trained.best_run_id
