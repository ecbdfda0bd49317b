"""Open operational routes: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from fraudops.api.deps import HolderDep, MetricsDep
from fraudops.api.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/health/live", response_model=Health)
async def live() -> Health:
    """The process answers (it may not have a model yet)."""
    return Health(status="ok")


@router.get(
    "/health/ready",
    response_model=Health,
    responses={503: {"model": Health, "description": "No model loaded yet."}},
)
async def ready(holder: HolderDep) -> Response:
    """Ready only with a model loaded."""
    model = holder.current
    if model is None:
        body = Health(status="not ready", detail=holder.public_reason)
        return JSONResponse(body.model_dump(), status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    return JSONResponse(Health(status="ready", model_version=model.version).model_dump())


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
async def metrics(registry: MetricsDep) -> Response:
    """Prometheus metrics: requests, latency, scored transactions, model loads."""
    body, content_type = registry.render()
    return Response(body, media_type=content_type)
