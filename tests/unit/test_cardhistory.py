"""The card-history features: the vectorised executor against a per-row loop, point in time."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from fraudops.cardhistory import HISTORY_FEATURES, compute, enrich
from fraudops.cardhistory import offline as offline_mod
from fraudops.cardhistory.definition import COUNT_WINDOWS, US, WINDOWS
from fraudops.geo import haversine_km

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def events(
    n: int, *, seed: int = 0, cards: int = 5, merchants: int = 4, days: int = 40
) -> pa.Table:
    """Random transactions over ``days`` days, with ties in time on purpose."""
    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, days * 86_400, n)
    seconds[: n // 5] = seconds[n // 5 : 2 * (n // 5)]  # a fifth share a time with another row
    return pa.table(
        {
            "transaction_id": [f"t{i:05d}" for i in rng.permutation(n)],
            "event_ts": pa.array(
                [
                    T0 + dt.timedelta(seconds=int(s), microseconds=int(u))
                    for s, u in zip(seconds, rng.integers(0, 2, n), strict=True)
                ],
                pa.timestamp("us", tz="UTC"),
            ),  # fmt: skip
            "card_id": [f"C{c}" for c in rng.integers(0, cards, n)],
            "merchant_id": [f"M{m}" for m in rng.integers(0, merchants, n)],
            "transaction_amount": np.round(rng.lognormal(4, 1, n), 2),
            "latitude": rng.uniform(-60, 60, n),
            "longitude": rng.uniform(-170, 170, n),
        }
    )


def by_loop(table: pa.Table) -> dict[str, np.ndarray]:
    """The definition, row by row, the slow and obvious way."""
    rows = table.to_pylist()
    out: dict[str, list[float]] = {name: [] for name in HISTORY_FEATURES}
    for r in rows:
        t = r["event_ts"]
        prior = [
            p for p in rows
            if p["card_id"] == r["card_id"] and p["event_ts"] < t
            and (t - p["event_ts"]) <= dt.timedelta(microseconds=WINDOWS["30d"])
        ]  # fmt: skip
        for w, width in WINDOWS.items():
            inside = [p for p in prior if (t - p["event_ts"]) <= dt.timedelta(microseconds=width)]
            if w in COUNT_WINDOWS:
                out[f"card_txns_{w}"].append(len(inside))
            if w in ("1h", "24h", "7d"):
                out[f"card_amount_{w}"].append(sum(p["transaction_amount"] for p in inside))
        mean = np.mean([p["transaction_amount"] for p in prior]) if prior else np.nan
        out["amount_to_card_mean_30d"].append(r["transaction_amount"] / mean)
        if prior:
            last = max(prior, key=lambda p: (p["event_ts"], p["transaction_id"]))
            seconds = (t - last["event_ts"]) / dt.timedelta(microseconds=1) / US
            km = float(
                haversine_km(
                    np.array([last["latitude"]]), np.array([last["longitude"]]),
                    np.array([r["latitude"]]), np.array([r["longitude"]]),
                )[0]
            )  # fmt: skip
            out["seconds_since_last"].append(seconds)
            out["km_from_last"].append(km)
            out["kmh_from_last"].append(km / max(seconds / 3600, 1 / 60))
        else:
            for name in ("seconds_since_last", "km_from_last", "kmh_from_last"):
                out[name].append(np.nan)
        seen = any(p["merchant_id"] == r["merchant_id"] for p in prior)
        out["new_merchant_30d"].append(0.0 if seen else 1.0)
    return {name: np.array(values, dtype=np.float64) for name, values in out.items()}


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    for name in HISTORY_FEATURES:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-9, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_vectorised_executor_matches_the_definition_row_by_row(seed: int) -> None:
    table = events(300, seed=seed)
    assert_same(compute(table), by_loop(table))


def test_the_window_edge_is_inclusive_and_the_own_time_exclusive() -> None:
    at = [T0, T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=1)]
    table = pa.table(
        {
            "transaction_id": ["a", "b", "c"],
            "event_ts": pa.array(at, pa.timestamp("us", tz="UTC")),
            "card_id": ["C"] * 3,
            "merchant_id": ["M"] * 3,
            "transaction_amount": [10.0, 20.0, 30.0],
            "latitude": [0.0] * 3,
            "longitude": [0.0] * 3,
        }
    )
    got = compute(table)
    # exactly one hour before is inside the 1h window; the same instant is not history
    assert got["card_txns_1h"].tolist() == [0, 1, 1]
    assert got["card_amount_1h"].tolist() == [0, 10, 10]
    assert got["new_merchant_30d"].tolist() == [1, 0, 0]
    assert np.isnan(got["seconds_since_last"][0]) and got["seconds_since_last"][1] == 3600


def test_a_later_transaction_never_changes_an_earlier_ones_features() -> None:
    table = events(400, seed=3)
    ts = table["event_ts"].to_numpy()
    cut = np.sort(ts)[200]
    early = table.filter(pa.array(ts < cut))
    alone = compute(early)
    with_future = compute(table, targets=ts < cut)
    assert_same(with_future, alone)


def test_row_order_does_not_matter() -> None:
    table = events(200, seed=4)
    shuffled = np.random.default_rng(0).permutation(table.num_rows)
    got = compute(table.take(pa.array(shuffled)))
    want = compute(table)
    assert_same(got, {k: v[shuffled] for k, v in want.items()})


def test_groups_too_many_for_one_key_are_split_and_give_the_same_answer(monkeypatch) -> None:
    table = events(300, seed=5, cards=40)
    want = compute(table)
    monkeypatch.setattr(offline_mod, "_KEY_LIMIT", 200 * 86_400 * US)  # about 2 cards a run
    assert_same(compute(table), want)


def test_enrich_counts_a_transaction_in_both_the_rows_and_the_history_once() -> None:
    table = events(300, seed=6)
    ts = table["event_ts"].to_numpy()
    cut = np.sort(ts)[150]
    rows = table.filter(pa.array(ts >= cut))
    # the history is everything, the rows included: they must not count twice
    enriched = enrich(rows, history=table)
    want = compute(table, targets=ts >= cut)
    assert_same({n: enriched[n].to_numpy() for n in HISTORY_FEATURES}, want)
    assert enriched.column_names[: table.num_columns] == table.column_names


def test_an_empty_table_has_empty_features() -> None:
    got = compute(events(0))
    assert all(len(v) == 0 for v in got.values())


def test_enrich_a_group_of_cards_at_a_time_gives_the_same_features(monkeypatch) -> None:
    table = events(600, seed=5)
    rows, history = table.slice(300), table.slice(0, 300)
    at_once = enrich(rows, history)
    monkeypatch.setattr(offline_mod, "GROUP_ROWS", 70)  # 9 groups of cards

    in_groups = enrich(rows, history)

    # the same to float tolerance: running sums add other cards' amounts in another order
    assert_same(
        {n: in_groups[n].to_numpy() for n in HISTORY_FEATURES},
        {n: at_once[n].to_numpy() for n in HISTORY_FEATURES},
    )
