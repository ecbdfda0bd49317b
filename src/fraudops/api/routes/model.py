"""``GET /model`` (what is served), ``/model/card`` (its card), ``POST /model/reload``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, Security, status

from fraudops.api.auth import require_admin_key, require_api_key
from fraudops.api.deps import HolderDep, ModelDep
from fraudops.api.schemas import Message, ModelInfo, ReloadResult

router = APIRouter(prefix="/model", tags=["model"])


@router.get(
    "",
    response_model=ModelInfo,
    dependencies=[Security(require_api_key)],
    responses={401: {"model": Message}, 503: {"model": Message}},
)
async def model_info(request: Request, model: ModelDep) -> dict[str, object]:
    """The model being served: version, run, lake snapshot, metrics, when it was loaded.

    With a version in shadow beside it, that version too.
    """
    shadow = request.app.state.shadow.current
    if shadow is None:
        return model.info()
    about = {"name": shadow.name, "version": shadow.version, "loaded_at": shadow.loaded_at}
    return {**model.info(), "shadow": about}


@router.get(
    "/card",
    response_class=Response,
    dependencies=[Security(require_api_key)],
    responses={
        200: {"content": {"text/markdown": {}}, "description": "The model card (markdown)."},
        401: {"model": Message},
        404: {"model": Message},
        503: {"model": Message},
    },
)
async def model_card(model: ModelDep) -> Response:
    """The served version's model card: data, lineage, metrics at the alert budget, limits."""
    if not model.card:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"version {model.version} has no model card")
    return Response(
        model.card, media_type="text/markdown", headers={"X-Model-Version": model.version}
    )


@router.post(
    "/reload",
    response_model=ReloadResult,
    dependencies=[Security(require_admin_key)],
    responses={401: {"model": Message}, 403: {"model": Message}, 503: {"model": Message}},
)
async def reload_model(holder: HolderDep) -> ReloadResult:
    """Poll the registry alias now; load and swap in a new version if it moved (admin key)."""
    result = await holder.refresh()
    if result.error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, result.error)
    return ReloadResult(
        changed=result.changed, version=result.version, previous_version=result.previous_version
    )
