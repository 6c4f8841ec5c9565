"""Dependencies: the services built at start-up, the caller's identity, link base."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chunkup import models
from chunkup.api import schemas
from chunkup.api.schemas import media_body
from chunkup.errors import Unauthorized
from chunkup.media import stored
from chunkup.services import Services
from chunkup.storage.base import PresignedUrls

_bearer = HTTPBearer(auto_error=False, description="JWT access token (HS256 by default)")


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def authenticate(services: Services, authorization: str | None) -> int:
    """The caller of an ``Authorization: Bearer`` header, charged one request."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authentication credentials were not provided.")
    verifier = services.verifier
    if verifier.blocking:
        user_id = await asyncio.to_thread(verifier.verify, token.strip())
    else:
        user_id = verifier.verify(token.strip())
    services.rate_limiter.take(user_id)
    return user_id


async def current_user(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> int:
    if credentials is None:
        raise Unauthorized("Authentication credentials were not provided.")
    return await authenticate(services, f"{credentials.scheme} {credentials.credentials}")


CurrentUser = Annotated[int, Depends(current_user)]


class Links:
    """Absolute URLs for a response: API pages, and file URLs as configured."""

    def __init__(self, base: str, services: Services) -> None:
        self.base = base
        self.services = services

    async def file(self, key: str) -> str:
        settings = self.services.settings
        if settings.file_urls == "public" and settings.file_url_base:
            return f"{settings.file_url_base.rstrip('/')}/{key}"
        storage = self.services.storage
        if settings.file_urls == "presigned" and isinstance(storage, PresignedUrls):
            return await storage.presigned_url(key, settings.presigned_ttl)
        return f"{self.base}/{key}"

    async def media(self, media: models.Media) -> schemas.Media:
        urls = {}
        for role in stored.ROLES:
            rendition = stored.stored_rendition(media, role)
            urls[role] = await self.file(rendition.key) if rendition is not None else None
        return media_body(
            media,
            await self.file(media.file_key),
            thumbnail_url=urls[stored.THUMBNAIL],
            preview_url=urls[stored.PREVIEW],
            rendition_urls=[
                await self.file(picture.key) for picture in stored.stored_pictures(media)
            ],
        )


async def links(request: Request, services: ServicesDep) -> Links:
    configured = services.settings.public_url
    return Links((configured or str(request.base_url)).rstrip("/"), services)


LinksDep = Annotated[Links, Depends(links)]
