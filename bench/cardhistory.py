"""Card-history features: skew between /predict and the lake, model quality, offline build speed.

Three figures (issue: fraud-grade features), on the default lake (30 days of 20,000 rows):

* **model**: the same sweep (``train.SWEEP``, early stopping on the validation days) trained
  twice on the same labelled data and time split, once on the transaction's own features only
  and once with the card-history features; holdout average precision and precision/recall at
  the alert budget (the top ``alert_budget`` scores of each day) of both.
* **skew**: the next day replayed through a real ``fraudops serve`` (its store backfilled from
  the lake), in event-time order, 1 to 5 transactions per request; the features the API used
  (read back from its inference log) and its probabilities against the offline executor's
  over the lake. Goal: identical to float tolerance for every row.
* **offline build**: ``cardhistory.enrich`` rows/s on the 30-day lake and on 10M rows
  (30 days of 333,334), best of 3 after a warm-up; peak RSS of the process.

    python -m bench cardhistory        # via make bench
    python -m bench.cardhistory --skip-10m
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xgboost as xgb

from bench.startup import child_env
from fraudops import datagen, fitting, generate, lake, registry, tracking, train
from fraudops.cardhistory import HISTORY_FEATURES, enrich, sources
from fraudops.cardhistory.backfill import backfill
from fraudops.config import Settings
from fraudops.evaluation import at_budget
from fraudops.features import BASE_FEATURES, FEATURE_NAMES, FEATURE_TYPES, features_from_table
from fraudops.procs import free_port, start_group, stop_groups, wait_http
from fraudops.scoring import score_table
from fraudops.trainset import labels, time_split

API_KEY = "bench-key-0123456789abcdef"
FEATURE_TOLERANCE = 1e-9  # relative
PROBA_TOLERANCE = 1e-6  # absolute


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


# -- model quality -------------------------------------------------------------------------------


def _fit(x: dict[str, np.ndarray], y: dict[str, np.ndarray], names: list[str]) -> xgb.Booster:
    """The sweep on ``names``' columns; the booster with the best validation AP."""
    cols = [FEATURE_NAMES.index(n) for n in names]
    types = [FEATURE_TYPES[i] for i in cols]
    kw: dict[str, Any] = {"feature_names": names, "feature_types": types}
    dtrain = xgb.DMatrix(x["train"][:, cols], y["train"], enable_categorical=True, **kw)
    dvalid = xgb.DMatrix(x["valid"][:, cols], y["valid"], enable_categorical=True, **kw)
    best: tuple[float, xgb.Booster] | None = None
    for config in train.SWEEP:
        booster = fitting.fit(dtrain, dvalid, params=config)
        if best is None or booster.best_score > best[0]:
            best = (float(booster.best_score), fitting.trimmed(booster))
    assert best is not None
    return best[1]


def model_quality(settings: Settings) -> dict[str, dict[str, float]]:
    from sklearn.metrics import average_precision_score

    catalog = lake.open_catalog(settings)
    labelled = lake.read_labelled(
        catalog, lake.pin(catalog), maturity_days=settings.label_maturity_days
    )
    split = time_split(
        labelled.table, valid_days=settings.valid_days, holdout_days=settings.holdout_days
    )
    parts = {"train": split.train, "valid": split.valid, "holdout": split.holdout}
    x = {k: features_from_table(t) for k, t in parts.items()}
    y = {k: labels(t) for k, t in parts.items()}
    days = pc.cast(split.holdout["event_ts"], pa.date32()).cast(pa.int32()).to_numpy()
    out = {}
    for name, names in (
        ("transaction only", list(BASE_FEATURES)),
        ("with card history", list(FEATURE_NAMES)),
    ):
        booster = _fit(x, y, names)
        cols = [FEATURE_NAMES.index(n) for n in names]
        proba = booster.inplace_predict(x["holdout"][:, cols], validate_features=False)
        precision, recall, alerts = at_budget(y["holdout"], proba, days, settings.alert_budget)
        out[name] = {
            "ap": float(average_precision_score(y["holdout"], proba)),
            "precision": precision,
            "recall": recall,
            "alerts": alerts,
        }
    rows = {k: t.num_rows for k, t in parts.items()}
    print(f"  split: {rows}, holdout frauds (labels as known) {int(y['holdout'].sum())}")
    for name, m in out.items():
        print(
            f"  {name:<18} holdout AP {m['ap']:.3f} | at the budget of {settings.alert_budget}"
            f"/day: precision {m['precision']:.3f}, recall {m['recall']:.3f}"
        )
    before, after = out["transaction only"]["ap"], out["with card history"]["ap"]
    print(f"  average precision {before:.3f} -> {after:.3f} ({after / before:.2f}x)")
    return out


# -- skew: a day through /predict vs the offline executor ------------------------------------------


def skew(settings: Settings, work: Path, *, day: dt.date) -> bool:
    generate.generate(settings, start=day, days=1)
    table = lake.transactions_table(lake.open_catalog(settings))
    rows = lake.read_transactions(table, days=[day])
    rows = rows.sort_by([("event_ts", "ascending"), ("transaction_id", "ascending")])
    history = sources.from_lake(table, rows, snapshot_id=table.current_snapshot().snapshot_id)
    offline = enrich(rows, history)
    production = registry.production_model(tracking.connect(settings), settings)
    assert production is not None
    scorer = registry.load_scorer(settings, production.version)
    want_proba, _ = score_table(scorer, offline)

    port = free_port()
    env = child_env()
    env.update(FRAUDOPS_HOME=str(settings.home_dir), FRAUDOPS_API_KEYS=API_KEY)
    exe = str(Path(sys.executable).with_name("fraudops"))
    proc = start_group([exe, "serve", "--port", str(port)], env=env, log=work / "serve.log")
    url = f"http://127.0.0.1:{port}"
    records = rows.to_pylist()
    for r in records:
        r["event_ts"] = r["event_ts"].isoformat()
    got_proba: dict[str, float] = {}
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    requests = 0
    try:
        wait_http(f"{url}/health/ready", proc=proc, timeout=180, ready=lambda s: s == 200)
        with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=30) as http:
            start = 0
            while start < len(records):
                size = int(rng.integers(1, 6))
                resp = http.post("/predict", json=records[start : start + size])
                resp.raise_for_status()
                for p in resp.json()["predictions"]:
                    got_proba[p["transaction_id"]] = p["fraud_probability"]
                start += size
                requests += 1
    finally:
        stop_groups([proc], grace=30)  # the inference log commits on the way out
    seconds = time.perf_counter() - t0
    logged = lake.predictions_table(lake.open_catalog(settings)).scan().to_arrow()
    logged = logged.filter(pc.equal(logged["source"], "api"))
    index = {tid: i for i, tid in enumerate(logged["transaction_id"].to_pylist())}
    missing = [t for t in rows["transaction_id"].to_pylist() if t not in index]
    if missing:
        raise SystemExit(f"{len(missing):,} transactions not in the inference log: {missing[:5]}")
    order = np.array([index[t] for t in rows["transaction_id"].to_pylist()])
    worst, differing = 0.0, 0
    for name in HISTORY_FEATURES:
        served = logged[name].to_numpy()[order]
        want = offline[name].to_numpy()
        bad = ~np.isclose(served, want, rtol=FEATURE_TOLERANCE, atol=1e-12, equal_nan=True)
        worst = max(worst, float(np.nanmax(np.abs(served - want), initial=0.0)))
        differing += int(bad.sum())
        if bad.any():
            print(f"  {name}: {int(bad.sum())} rows differ")
    proba = np.array([got_proba[t] for t in rows["transaction_id"].to_pylist()])
    proba_diff = float(np.max(np.abs(proba - want_proba)))
    same = differing == 0 and proba_diff <= PROBA_TOLERANCE
    print(
        f"  {rows.num_rows:,} transactions of {day} in {requests:,} requests ({seconds:.1f} s); "
        f"{len(logged):,} logged with their features"
    )
    print(
        f"  features: {len(HISTORY_FEATURES)} x {rows.num_rows:,}, largest difference {worst:.3g}; "
        f"probabilities: largest difference {proba_diff:.3g} -> "
        f"{'identical to tolerance' if same else 'SKEW'}"
    )
    return same


# -- offline build speed ---------------------------------------------------------------------------


def _days(rows: int, days: int = 30) -> pa.Table:
    start = dt.date(2026, 1, 1)
    return pa.concat_tables(
        datagen.generate_day(start + dt.timedelta(days=i), rows=rows) for i in range(days)
    )


def build_speed(table: pa.Table, label: str, *, repeats: int = 3) -> float:
    enrich(table.slice(0, 50_000))  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        enrich(table)
        best = min(best, time.perf_counter() - t0)
    rate = table.num_rows / best
    print(
        f"  {label:<22} {table.num_rows:>11,} rows in {best:6.2f} s: {rate:>10,.0f} rows/s "
        f"(best of {repeats}); peak RSS so far {rss_gib():.1f} GiB",
        flush=True,
    )
    return rate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cardhistory", description=__doc__)
    parser.add_argument("--skip-10m", action="store_true", help="Skip the 10M-row build.")
    parser.add_argument("--keep", action="store_true", help="Keep the work folder (and logs).")
    args = parser.parse_args(argv or [])
    with tempfile.TemporaryDirectory(prefix="bench-cardhistory-") as tmp:
        work = Path(tempfile.mkdtemp(prefix="bench-cardhistory-") if args.keep else tmp)
        print(f"work folder: {work}", flush=True)
        settings = Settings(_env_file=None, home=work / "home")  # type: ignore[call-arg]
        print(
            f"generating the default lake: {settings.days} days of {settings.rows_per_day:,}",
            flush=True,
        )
        generate.generate(settings)

        print("model: the same sweep, data and split, with and without card history", flush=True)
        model_quality(settings)

        print("skew: the next day through fraudops serve vs the offline executor", flush=True)
        trained = train.train_and_register(settings)
        registry.promote(settings, version=trained.version)
        filled = backfill(settings)
        print(f"  store backfilled: {filled.loaded:,} transactions of {filled.cards:,} cards")
        next_day = settings.start_date + dt.timedelta(days=settings.days)
        same = skew(settings, work, day=next_day)

        print("offline build (cardhistory.enrich)", flush=True)
        build_speed(_days(settings.rows_per_day), "30 days x 20,000")
        if not args.skip_10m:
            build_speed(_days(333_334), "30 days x 333,334", repeats=2)
    if not same:
        raise SystemExit("training/serving skew: see above")


if __name__ == "__main__":
    main(sys.argv[1:])
