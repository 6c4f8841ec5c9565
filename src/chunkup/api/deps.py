"""Dependencies: the services built at start-up, the caller's identity, link base."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chunkup.errors import Unauthorized
from chunkup.services import Services

_bearer = HTTPBearer(auto_error=False, description="JWT access token (HS256 by default)")


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_user(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> int:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Authentication credentials were not provided.")
    verifier = services.verifier
    if verifier.blocking:
        user_id = await asyncio.to_thread(verifier.verify, credentials.credentials)
    else:
        user_id = verifier.verify(credentials.credentials)
    services.rate_limiter.take(user_id)
    return user_id


CurrentUser = Annotated[int, Depends(current_user)]


async def base_url(request: Request) -> str:
    configured = request.app.state.services.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


BaseUrl = Annotated[str, Depends(base_url)]
