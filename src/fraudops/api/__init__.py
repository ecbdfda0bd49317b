"""The FastAPI serving app: ``create_app()`` builds it, ``fraudops serve`` runs it."""

from fraudops.api.app import create_app

__all__ = ["create_app"]
