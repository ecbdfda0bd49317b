"""Synthetic credit-card transactions with learnable fraud, seeded per day (pure, no IO).

``population``: the card holders of a seed; ``transactions``: one day of transactions and
the fraud process behind them; ``labels``: the label events that tell a bank, later, which
were fraud.
"""

from fraudops.datagen.labels import label_events, reported_on
from fraudops.datagen.population import CardHolders, card_holders
from fraudops.datagen.transactions import generate_day, generate_days

__all__ = [
    "CardHolders",
    "card_holders",
    "generate_day",
    "generate_days",
    "label_events",
    "reported_on",
]
