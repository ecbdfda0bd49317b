"""Synthetic credit-card transactions with learnable fraud, seeded per day (pure, no IO).

``population``: the card holders of a seed; ``transactions``: one day of transactions and
the fraud process that labels them (see its docstring).
"""

from fraudops.datagen.population import CardHolders, card_holders
from fraudops.datagen.transactions import generate_day, generate_days

__all__ = ["CardHolders", "card_holders", "generate_day", "generate_days"]
