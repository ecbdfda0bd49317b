"""FraudOps: a credit-card fraud model carried through its whole life on real MLOps parts."""

__version__ = "0.1.0"
