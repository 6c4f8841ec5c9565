"""The OpenAPI description and its interactive docs are served."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support import LiveServer

# what is tested here does not touch the database or storage
pytestmark = pytest.mark.backend_agnostic

# every endpoint of API.md (path parameters compared by position, not by name)
ENDPOINTS = [
    ("post", "/api/v2/media/upload/chunk/"),
    ("get", "/api/v2/media/upload/{}/"),
    ("delete", "/api/v2/media/upload/{}/"),
    ("post", "/api/v2/media/upload/complete/"),
    ("get", "/api/v2/media/"),
    ("get", "/api/v2/media/{}/"),
    ("delete", "/api/v2/media/{}/"),
]


# The file route answers GET and HEAD under one operation id; FastAPI warns about the
# duplicate, and this suite turns warnings into errors (a 500). The tests of the document's
# content set that one warning aside; the two tests without it check that the document is
# served as it is and that its operation ids are unique.
content_test = pytest.mark.filterwarnings("ignore:Duplicate Operation ID:UserWarning")


def openapi(server: LiveServer) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        return http.get("/openapi.json")


def operations(document: dict) -> set[tuple[str, str]]:
    return {
        (method.lower(), re.sub(r"\{[^}]*\}", "{}", path))
        for path, item in document["paths"].items()
        for method in item
    }


def test_openapi_json_is_served(server: LiveServer):
    response = openapi(server)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["openapi"].startswith("3.")


@content_test
@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_openapi_describes_every_endpoint_of_the_contract(
    server: LiveServer, method: str, path: str
):
    assert (method, path) in operations(openapi(server).json())


@content_test
@pytest.mark.parametrize("name", ["ChunkMedia", "Media", "ErrorBody"])
def test_openapi_has_the_named_schemas(server: LiveServer, name: str):
    assert name in openapi(server).json()["components"]["schemas"]


@content_test
def test_openapi_media_schema_has_the_contract_fields(server: LiveServer):
    schema = openapi(server).json()["components"]["schemas"]["Media"]
    expected = {
        "id",
        "added_at",
        "type",
        "title",
        "description",
        "url",
        "image",
        "image_width",
        "image_height",
        "order",
        "embed",
        "size",
        "mimetype",
    }
    assert expected <= set(schema["properties"])


@content_test
def test_openapi_chunk_media_offset_is_a_string(server: LiveServer):
    schema = openapi(server).json()["components"]["schemas"]["ChunkMedia"]
    assert set(schema["properties"]) >= {"upload_id", "offset", "expires"}
    assert schema["properties"]["offset"]["type"] == "string"


@content_test
def test_openapi_operation_ids_are_unique(server: LiveServer):
    document = openapi(server).json()
    ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if "operationId" in operation
    ]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert duplicates == []


def test_docs_page_answers_200(server: LiveServer):
    with httpx.Client(base_url=server.url, timeout=30) as http:
        response = http.get("/docs")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


@content_test
def test_routes_put_on_the_app_document_as_included_routers_would():
    from fastapi import FastAPI

    from chunkup.api.app import create_app
    from chunkup.api.routes import files, health, media, tus, uploads

    app = create_app()
    reference = FastAPI(title=app.title, version=app.version, summary=app.summary)
    for router in (uploads.router, health.router, tus.router, media.router, files.router):
        reference.include_router(router)
    ours, theirs = app.openapi(), reference.openapi()
    assert ours["paths"] == theirs["paths"]
    assert ours["components"] == theirs["components"]
