"""Routers, one per concern: predictions, the model, health and metrics."""
