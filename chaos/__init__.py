"""Fault and load scenarios against real services: ``python -m chaos`` (``make chaos``)."""
