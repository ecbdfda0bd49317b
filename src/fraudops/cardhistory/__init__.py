"""Card-history features: one definition, an offline and an online executor.

``definition`` (the features and their one formula), ``offline`` (vectorised over tables:
training, the inbox, replay), ``online`` (per request, from a store the API updates),
``stores`` (where the online executor keeps each card's recent transactions).
"""

from fraudops.cardhistory.definition import EVENT_COLUMNS, HISTORY_FEATURES, VERSION
from fraudops.cardhistory.offline import compute, enrich

__all__ = ["EVENT_COLUMNS", "HISTORY_FEATURES", "VERSION", "compute", "enrich"]
