"""Typed dependencies of the routes: the model holder, the served model, the metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from fraudops.api.holder import LoadedModel, ModelHolder
from fraudops.api.metrics import Metrics


async def get_holder(request: Request) -> ModelHolder:
    """The model holder."""
    holder: ModelHolder = request.app.state.holder
    return holder


async def get_metrics(request: Request) -> Metrics:
    """The app's Prometheus metrics."""
    metrics: Metrics = request.app.state.metrics
    return metrics


HolderDep = Annotated[ModelHolder, Depends(get_holder)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def current_model(holder: ModelHolder) -> LoadedModel:
    """The model to answer a request with (503 until one is loaded).

    The request keeps this reference: a swap during the request does not affect it.
    """
    model = holder.current
    if model is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"no model loaded yet ({holder.public_reason})",
            headers={"Retry-After": "5"},
        )
    return model


async def get_model(request: Request) -> LoadedModel:
    """The served model (503 until one is loaded)."""
    return current_model(request.app.state.holder)


ModelDep = Annotated[LoadedModel, Depends(get_model)]
