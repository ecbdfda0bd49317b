"""Synthetic credit-card transactions with learnable fraud, seeded per day (pure, no IO).

``population``: the card holders of a seed; ``transactions``: one slice of a day of
transactions and the fraud process behind them; ``days``: whole days (their slices in
order); ``labels``: the label events that tell a bank, later, which were fraud.
"""

from fraudops.datagen.days import generate_day, generate_days
from fraudops.datagen.labels import label_events, reported_on
from fraudops.datagen.population import CardHolders, card_holders
from fraudops.datagen.transactions import SLICE_ROWS, generate_slice, slice_sizes

__all__ = [
    "SLICE_ROWS",
    "CardHolders",
    "card_holders",
    "generate_day",
    "generate_days",
    "generate_slice",
    "label_events",
    "reported_on",
    "slice_sizes",
]
