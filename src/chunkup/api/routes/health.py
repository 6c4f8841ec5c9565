"""``/healthz`` (the process answers), ``/readyz`` (database and storage answer), ``/metrics``."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chunkup.api.deps import ServicesDep
from chunkup.api.schemas import ErrorBody
from chunkup.errors import ChunkupError, Unauthorized

router = APIRouter(tags=["operations"])
log = logging.getLogger(__name__)
PROBE_TIMEOUT = 5.0


@router.get("/healthz", operation_id="healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", summary="The database and the storage answer")
async def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}
    for name, probe in (("database", services.db.ping), ("storage", services.probe_storage)):
        try:
            await asyncio.wait_for(probe(), PROBE_TIMEOUT)
            checks[name] = "ok"
        except (ChunkupError, OSError, TimeoutError) as exc:
            log.warning("readiness: %s is not ready: %r", name, exc)
            checks[name] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", **checks}, status_code=200 if ready else 503
    )


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 401: {"model": ErrorBody}},
)
async def metrics(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Every worker's counts summed (see ``api/observability.py``); with
    ``CHUNKUP_METRICS_TOKEN`` set, only for ``Authorization: Bearer <that token>``."""
    expected = services.settings.metrics_token
    if expected is not None:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            given.strip().encode(), expected.get_secret_value().encode()
        ):
            raise Unauthorized("/metrics needs the bearer token of CHUNKUP_METRICS_TOKEN.")
    registry = request.app.state.metrics.exposed
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
