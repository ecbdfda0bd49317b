"""Synthetic credit-card transactions, vectorised and seeded per day.

The fraud process (why the label is learnable):

* **Card holders** are a fixed population per seed: a home city, an age and balances.
* **Legitimate** transactions follow daytime hours, near home (3% travel), mostly card-present;
  online use is common only for online retail and travel; amounts are log-normal around a
  median per merchant category.
* **Fraud** comes in **bursts on compromised cards** (1-6 transactions minutes apart), drawn
  from patterns:

  - *card not present* (55%): online, at online retail / electronics / travel / jewelry,
    large amounts, mostly far from home, more often at night;
  - *skimmed card* (30%): swipe or ATM far from home, gas stations, ATMs, jewelry, at night;
  - *camouflaged* (15%): drawn like legitimate traffic of the same card, so it stays hard.

  Fraud amounts are also large relative to the victim's bank balance.
* **Drift** (``drift_from``): from that day on prices grow 30%, most chip payments turn
  contactless (a new phone wallet), more legitimate traffic moves online, and a new pattern
  appears, *account takeover* (35% of fraud): contactless purchases near home, in the
  daytime, in everyday categories, a few times the usual amount whatever the balance; a
  model trained before it misses much of it.

The same ``(seed, day)`` always yields the same rows, whatever else was generated.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops.datagen.population import CITIES, card_holders
from fraudops.features import CATEGORY_MEDIAN_AMOUNT
from fraudops.schema import CHANNELS, MERCHANT_CATEGORIES, arrow_schema

_CAT = {name: i for i, name in enumerate(MERCHANT_CATEGORIES)}
DRIFT_AMOUNT = 1.3  # prices from the drift day on
DRIFT_WALLET = 0.7  # share of chip payments that turn contactless
_CH = {name: i for i, name in enumerate(CHANNELS)}

CATEGORY_SHARE = np.array([0.24, 0.16, 0.10, 0.14, 0.05, 0.04, 0.01, 0.08, 0.06, 0.12])

# channel probabilities (chip, swipe, contactless, online, atm) per merchant category
_CHANNEL_P = np.array(
    [
        [0.45, 0.12, 0.40, 0.03, 0.0],  # grocery
        [0.40, 0.10, 0.40, 0.10, 0.0],  # restaurant
        [0.50, 0.25, 0.25, 0.00, 0.0],  # gas_station
        [0.00, 0.00, 0.00, 1.00, 0.0],  # online_retail
        [0.45, 0.10, 0.20, 0.25, 0.0],  # electronics
        [0.20, 0.05, 0.15, 0.60, 0.0],  # travel
        [0.60, 0.20, 0.15, 0.05, 0.0],  # jewelry
        [0.30, 0.05, 0.35, 0.30, 0.0],  # entertainment
        [0.50, 0.10, 0.35, 0.05, 0.0],  # health
        [0.00, 0.00, 0.00, 0.00, 1.0],  # atm_withdrawal
    ]
)
_CHANNEL_CUM = np.cumsum(_CHANNEL_P, axis=1)
_CHANNEL_CUM[:, -1] = 1.0

_LEGIT_HOURS = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.6, 1.5, 3, 4.5, 5, 5.5, 6, 7, 6.5, 6, 6, 6.5, 7, 7, 6.5, 5, 4, 3, 2]
)
_FRAUD_HOURS = np.array(
    [5, 6, 6, 6, 5, 4, 3, 2, 2, 2, 2.5, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3.5, 4, 4.5, 5]
)
_LEGIT_HOURS_P = _LEGIT_HOURS / _LEGIT_HOURS.sum()
_FRAUD_HOURS_P = _FRAUD_HOURS / _FRAUD_HOURS.sum()

_US_PER_DAY = 86_400 * 1_000_000
SLICE_ROWS = 250_000  # most rows drawn from one seed: a day beyond is cut into slices
_EPOCH = dt.date(1970, 1, 1)


def _sample_hours(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(24, size=n, p=p)


def _channels_for(rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
    u = rng.random(len(category))
    return np.asarray((u[:, None] > _CHANNEL_CUM[category]).sum(axis=1))


def _burst_sizes(rng: np.random.Generator, n_fraud: int) -> np.ndarray:
    if n_fraud == 0:
        return np.zeros(0, dtype=np.int64)
    sizes = np.minimum(rng.geometric(0.45, size=n_fraud), 6)
    cut = int(np.searchsorted(np.cumsum(sizes), n_fraud)) + 1
    sizes = sizes[:cut]
    sizes[-1] -= sizes.sum() - n_fraud
    return sizes[sizes > 0]


def slice_sizes(rows: int) -> list[int]:
    """Rows of each slice of a day of ``rows`` (as even as can be, at most ``SLICE_ROWS``)."""
    parts = max(1, -(-rows // SLICE_ROWS))
    return [rows // parts + (1 if i < rows % parts else 0) for i in range(parts)]


def slice_seed(seed: int, day: dt.date, part: int, stream: int = 0) -> list[int]:
    """The seed of one slice of a day (slice 0 keeps the day's seed of a one-slice day)."""
    base = [seed, day.toordinal()] + ([stream] if stream else [])
    return base if part == 0 else [*base, 2, part]


def generate_slice(
    day: dt.date,
    *,
    part: int,
    rows: int,
    seed: int = 42,
    fraud_rate: float = 0.01,
    drift_from: dt.date | None = None,
    n_cards: int | None = None,
) -> pa.Table:
    """Slice ``part`` of the day of ``rows`` transactions :func:`generate_day` gives."""
    holders = card_holders(seed, n_cards or max(2_000, rows // 2))
    day_sizes = slice_sizes(rows)
    first_id = sum(day_sizes[:part])
    rows = day_sizes[part]
    rng = np.random.default_rng(slice_seed(seed, day, part))
    drifted = drift_from is not None and day >= drift_from
    n_fraud = int(rng.binomial(rows, fraud_rate))
    n_legit = rows - n_fraud

    # -- legitimate traffic -------------------------------------------------------------------
    card = rng.integers(0, len(holders), rows)  # fraud rows reuse the tail as victims
    cat = rng.choice(len(CATEGORY_SHARE), size=rows, p=CATEGORY_SHARE)
    chan = _channels_for(rng, cat)
    hour = _sample_hours(rng, _LEGIT_HOURS_P, rows)
    amount = CATEGORY_MEDIAN_AMOUNT[cat] * rng.lognormal(0.0, 0.75, rows)
    lat = holders.home_lat[card] + rng.normal(0, 0.04, rows)
    lon = holders.home_lon[card] + rng.normal(0, 0.04, rows)
    travel = rng.random(rows) < 0.03
    away = rng.integers(0, len(CITIES), rows)
    lat = np.where(travel, CITIES[away, 0] + rng.normal(0, 0.1, rows), lat)
    lon = np.where(travel, CITIES[away, 1] + rng.normal(0, 0.1, rows), lon)
    seconds = hour * 3600 + rng.integers(0, 3600, rows)
    if drifted:
        amount *= DRIFT_AMOUNT
        to_online = (rng.random(rows) < 0.15) & np.isin(
            cat, [_CAT["electronics"], _CAT["entertainment"]]
        )
        chan = np.where(to_online, _CH["online"], chan)
        # a new phone wallet: half of chip payments become contactless
        to_wallet = (rng.random(rows) < DRIFT_WALLET) & (chan == _CH["chip"])
        chan = np.where(to_wallet, _CH["contactless"], chan)
    label = np.zeros(rows, dtype=np.int32)

    # -- fraud bursts on compromised cards ----------------------------------------------------
    sizes = _burst_sizes(rng, n_fraud)
    if n_fraud:
        f = slice(n_legit, rows)
        n_bursts = len(sizes)
        burst = np.repeat(np.arange(n_bursts), sizes)
        burst_card = rng.integers(0, len(holders), n_bursts)
        pattern_p = [0.30, 0.20, 0.15, 0.35] if drifted else [0.55, 0.30, 0.15, 0.0]
        pattern = rng.choice(4, size=n_bursts, p=pattern_p)[burst]
        card[f] = burst_card[burst]
        start = _sample_hours(rng, _FRAUD_HOURS_P, n_bursts) * 3600 + rng.integers(
            0, 3600, n_bursts
        )
        step = np.minimum(rng.exponential(180, n_fraud), 1800).astype(np.int64)
        first = np.r_[0, np.cumsum(sizes)[:-1]]
        offset = np.cumsum(step) - np.repeat(np.cumsum(step)[first] - step[first], sizes)
        if drifted:  # account takeover happens in the daytime, like the holder's own payments
            daytime = _sample_hours(rng, _LEGIT_HOURS_P, n_bursts) * 3600
            start = np.where(pattern[first] == 3, daytime + rng.integers(0, 3600, n_bursts), start)
        seconds[f] = np.minimum(start[burst] + offset, 86_399)
        label[f] = 1

        far_city = rng.integers(0, len(CITIES), n_bursts)[burst]
        far_lat = CITIES[far_city, 0] + rng.normal(0, 0.1, n_fraud)
        far_lon = CITIES[far_city, 1] + rng.normal(0, 0.1, n_fraud)
        is_far = rng.random(n_fraud)

        fcat = cat[f].copy()
        fchan = chan[f].copy()
        famount = amount[f].copy()
        flat = holders.home_lat[card[f]] + rng.normal(0, 0.04, n_fraud)
        flon = holders.home_lon[card[f]] + rng.normal(0, 0.04, n_fraud)
        far = np.zeros(n_fraud, dtype=bool)

        cnp = pattern == 0
        k = int(cnp.sum())
        fcat[cnp] = rng.choice(
            [_CAT["online_retail"], _CAT["electronics"], _CAT["travel"], _CAT["jewelry"]],
            size=k,
            p=[0.4, 0.3, 0.15, 0.15],
        )
        fchan[cnp] = _CH["online"]
        far[cnp] = is_far[cnp] < 0.7

        skim = pattern == 1
        k = int(skim.sum())
        fcat[skim] = rng.choice(
            [_CAT["gas_station"], _CAT["atm_withdrawal"], _CAT["jewelry"], _CAT["electronics"]],
            size=k,
            p=[0.35, 0.35, 0.15, 0.15],
        )
        fchan[skim] = np.where(fcat[skim] == _CAT["atm_withdrawal"], _CH["atm"], _CH["swipe"])
        far[skim] = is_far[skim] < 0.8

        takeover = pattern == 3
        k = int(takeover.sum())
        fcat[takeover] = rng.choice(
            [_CAT["grocery"], _CAT["health"], _CAT["restaurant"]], size=k, p=[0.5, 0.3, 0.2]
        )
        fchan[takeover] = _CH["contactless"]

        loud = pattern != 2
        bank = holders.bank_account_balance[card[f]]
        big = CATEGORY_MEDIAN_AMOUNT[fcat] * rng.lognormal(1.0, 0.8, n_fraud)
        big = np.maximum(big, np.minimum(bank * rng.uniform(0.5, 1.5, n_fraud), 20_000))
        famount = np.where(loud, big, famount)
        if drifted:  # a few times the everyday amount, whatever the balance: easy to miss
            quiet = CATEGORY_MEDIAN_AMOUNT[fcat] * DRIFT_AMOUNT * rng.lognormal(2.5, 0.25, n_fraud)
            famount = np.where(takeover, quiet, famount)
        flat = np.where(far, far_lat, flat)
        flon = np.where(far, far_lon, flon)

        cat[f], chan[f], amount[f], lat[f], lon[f] = fcat, fchan, famount, flat, flon

    amount = np.round(np.clip(amount, 0.01, 100_000.0), 2).astype(np.float64)
    lat = np.clip(lat, -90, 90)
    lon = np.clip(lon, -180, 180)

    # -- assemble, ordered by time ------------------------------------------------------------
    day_us = (day - _EPOCH).days * _US_PER_DAY
    ts = day_us + seconds.astype(np.int64) * 1_000_000 + rng.integers(0, 1_000_000, rows)
    order = np.argsort(ts, kind="stable")
    ts, card, cat, chan = ts[order], card[order], cat[order], chan[order]
    amount, lat, lon, label = amount[order], lat[order], lon[order], label[order]

    merchant = pa.array(cat * 100_000 + rng.integers(0, 3_000, rows)).cast(pa.string())
    seq = pa.array(np.arange(first_id, first_id + rows)).cast(pa.string())
    card_idx = pa.array(card)
    columns = {
        "transaction_id": pc.binary_join_element_wise(
            day.strftime("T%Y%m%d-"), pc.utf8_lpad(seq, 7, "0"), ""
        ),
        "event_ts": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
        "card_id": holders.card_id.take(card_idx),
        "merchant_id": pc.binary_join_element_wise("M", pc.utf8_lpad(merchant, 7, "0"), ""),
        "merchant_category": pa.DictionaryArray.from_arrays(
            pa.array(cat, pa.int32()), pa.array(MERCHANT_CATEGORIES)
        ).dictionary_decode(),
        "channel": pa.DictionaryArray.from_arrays(
            pa.array(chan, pa.int32()), pa.array(CHANNELS)
        ).dictionary_decode(),
        "card_present": pa.array(chan != _CH["online"]),
        "transaction_amount": pa.array(amount),
        "latitude": pa.array(np.round(lat, 5)),
        "longitude": pa.array(np.round(lon, 5)),
        "home_latitude": pa.array(np.round(holders.home_lat[card], 5)),
        "home_longitude": pa.array(np.round(holders.home_lon[card], 5)),
        "age": pa.array(holders.age[card]),
        "credit_card_balance": pa.array(holders.credit_card_balance[card]),
        "bank_account_balance": pa.array(holders.bank_account_balance[card]),
        "savings_account_balance": pa.array(holders.savings_account_balance[card]),
        "mortgage_balance": pa.array(holders.mortgage_balance[card]),
        "total_est_nworth": pa.array(holders.total_est_nworth[card]),
        "is_fraud": pa.array(label),
    }
    return pa.Table.from_arrays(list(columns.values()), schema=arrow_schema(with_label=True))
