"""The fast lane (``chunkup.api.fast_lane``): one documented route serves the chunk endpoint,
and FastAPI's request handler is not in its way."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import PlainTextResponse

from chunkup.api.app import create_app
from chunkup.api.fast_lane import FastLaneRoute
from chunkup.api.routes.uploads import upload_chunk
from tests.support import LiveServer, assert_error

pytestmark = pytest.mark.backend_agnostic

URL = "/api/v2/media/upload/chunk/"


def tiny_app(endpoint: Any, **options: Any) -> FastAPI:
    app = FastAPI()
    app.router.add_api_route(
        "/lane", endpoint, methods=["POST"], route_class_override=FastLaneRoute, **options
    )
    return app


async def post(app: FastAPI, body: bytes = b"") -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.post("/lane", content=body)


def test_the_chunk_path_has_one_route_and_it_is_on_the_fast_lane():
    routes = [r for r in create_app().router.routes if getattr(r, "path", None) == URL]
    assert len(routes) == 1
    (route,) = routes
    assert isinstance(route, FastLaneRoute)
    assert route.endpoint is upload_chunk
    assert route.methods == {"POST"}
    assert route.include_in_schema


@pytest.mark.filterwarnings("ignore:Duplicate Operation ID:UserWarning")
def test_the_fast_lane_route_documents_the_chunk_operation():
    operation = create_app().openapi()["paths"][URL]["post"]
    assert operation["operationId"] == "createMediaChunk"
    assert [p["name"] for p in operation["parameters"]] == ["Content-Range"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    created = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/ChunkMedia"}
    assert {"400", "401", "409", "413"} <= set(operation["responses"])


async def test_the_fast_lane_hands_the_endpoint_the_request_and_sends_its_response():
    async def echo(request: Request) -> Response:
        return PlainTextResponse(await request.body(), status_code=202)

    response = await post(tiny_app(echo, status_code=201), b"chunk bytes")

    assert response.status_code == 202
    assert response.text == "chunk bytes"


async def test_the_fast_lane_serialises_nothing_the_endpoint_returns():
    # FastAPI's own handler would turn the dict into JSON: the fast lane sends what
    # the endpoint returns as it is, so a dict is an error
    async def returns_a_dict(request: Request) -> Any:
        return {"not": "a response"}

    with pytest.raises(TypeError):
        await post(tiny_app(returns_a_dict))


def test_a_fast_lane_route_refuses_dependencies_it_would_not_run():
    async def endpoint(request: Request) -> Response:
        return Response()

    with pytest.raises(TypeError, match="no dependencies"):
        tiny_app(endpoint, dependencies=[Depends(lambda: None)])


def test_a_fast_lane_endpoint_takes_the_request_alone():
    async def endpoint(request: Request, upload_id: str) -> Response:
        return Response()

    with pytest.raises(TypeError, match="request alone"):
        tiny_app(endpoint)


def test_a_fast_lane_endpoint_is_async():
    def endpoint(request: Request) -> Response:
        return Response()

    with pytest.raises(TypeError, match="async"):
        tiny_app(endpoint)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "OPTIONS"])
def test_other_methods_on_the_chunk_path_answer_405_with_the_contract_body(
    server: LiveServer, method: str
):
    with server.client() as client:
        response = client.http.request(method, URL)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
