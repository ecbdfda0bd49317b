"""The card holders: a fixed population per seed, each with a home city, an age and balances."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CITIES = np.array(
    [
        (40.71, -74.01),
        (34.05, -118.24),
        (41.88, -87.63),
        (29.76, -95.37),
        (33.45, -112.07),
        (39.95, -75.17),
        (29.42, -98.49),
        (32.72, -117.16),
        (32.78, -96.80),
        (37.34, -121.89),
        (30.27, -97.74),
        (47.61, -122.33),
        (39.74, -104.99),
        (42.36, -71.06),
        (25.76, -80.19),
        (51.51, -0.13),
        (48.86, 2.35),
        (52.52, 13.40),
        (6.52, 3.38),
        (55.76, 37.62),
    ]
)
HOME_CITY_P = np.r_[np.full(15, 0.9 / 15), np.full(5, 0.1 / 5)]


@dataclass(frozen=True)
class CardHolders:
    """The fixed population of card holders for one seed."""

    card_id: pa.Array
    home_lat: np.ndarray
    home_lon: np.ndarray
    age: np.ndarray
    credit_card_balance: np.ndarray
    bank_account_balance: np.ndarray
    savings_account_balance: np.ndarray
    mortgage_balance: np.ndarray
    total_est_nworth: np.ndarray

    def __len__(self) -> int:
        return len(self.home_lat)


@lru_cache(maxsize=8)
def card_holders(seed: int, n_cards: int) -> CardHolders:
    """The card-holder population for a seed (the same for every day)."""
    rng = np.random.default_rng([seed, 0])
    city = rng.choice(len(CITIES), size=n_cards, p=HOME_CITY_P)
    home_lat = np.clip(CITIES[city, 0] + rng.normal(0, 0.15, n_cards), -90, 90)
    home_lon = np.clip(CITIES[city, 1] + rng.normal(0, 0.15, n_cards), -180, 180)
    age = np.clip(rng.normal(46, 16, n_cards), 18, 95).astype(np.int32)
    cc = np.round(rng.lognormal(7.0, 1.0, n_cards), 2)
    bank = np.round(rng.lognormal(8.0, 1.1, n_cards), 2)
    savings = np.round(rng.lognormal(8.5, 1.6, n_cards) * (rng.random(n_cards) < 0.8), 2)
    has_home = rng.random(n_cards) < 0.55
    mortgage = np.round(rng.lognormal(12.0, 0.6, n_cards) * has_home, 2)
    home_value = rng.lognormal(12.6, 0.5, n_cards) * has_home
    nworth = np.round(bank + savings + home_value - cc - mortgage, 2)
    ids = pc.binary_join_element_wise(
        "C", pc.utf8_lpad(pa.array(np.arange(n_cards)).cast(pa.string()), 7, "0"), ""
    )
    return CardHolders(ids, home_lat, home_lon, age, cc, bank, savings, mortgage, nworth)
