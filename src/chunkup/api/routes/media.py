"""The caller's media: list, get, delete: ``/api/v2/media/...``."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from chunkup.api.deps import CurrentUser, LinksDep, ServicesDep
from chunkup.api.schemas import ErrorBody, Media, MediaPage

router = APIRouter(prefix="/api/v2/media", tags=["media"])
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404)
}


def _page_url(request: Request, base: str, limit: int, offset: int) -> str:
    return f"{base}{request.url.path}?{urlencode({'limit': limit, 'offset': offset})}"


@router.get(
    "/",
    operation_id="listMedia",
    summary="The caller's media, newest first",
    response_model=MediaPage,
    responses=ERRORS,
)
async def list_media(
    request: Request,
    user: CurrentUser,
    services: ServicesDep,
    links: LinksDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> MediaPage:
    count, items = await services.library.list(user, limit=limit, offset=offset)
    following = offset + limit
    return MediaPage(
        count=count,
        next=_page_url(request, links.base, limit, following) if following < count else None,
        previous=(
            _page_url(request, links.base, limit, max(0, offset - limit)) if offset > 0 else None
        ),
        results=[await links.media(m) for m in items],
    )


@router.get(
    "/{media_id}/",
    operation_id="getSpecificMedia",
    summary="One media",
    response_model=Media,
    responses=ERRORS,
)
async def get_media(
    media_id: int,
    _user: CurrentUser,
    services: ServicesDep,
    links: LinksDep,
) -> Media:
    return await links.media(await services.library.get(media_id))


@router.delete(
    "/{media_id}/",
    status_code=204,
    operation_id="deleteMedia",
    summary="Delete a media and its files (creator only)",
    responses=ERRORS,
)
async def delete_media(media_id: int, user: CurrentUser, services: ServicesDep) -> Response:
    await services.library.delete(user, media_id)
    return Response(status_code=204)
