"""tus test helpers: an httpx client that speaks tus 1.0.0 as user 1, and upload shortcuts."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from tests.support import LiveServer

TUS = "/api/v2/media/tus/"
OFFSET_STREAM = {"Content-Type": "application/offset+octet-stream"}


def metadata(**values: str) -> str:
    """An ``Upload-Metadata`` value: ``key base64(value)`` pairs."""
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


class Tus:
    """Raw tus requests (the clients' own behaviour is tested with the clients)."""

    def __init__(self, server: LiveServer, user_id: int = 1) -> None:
        self.server = server
        self.user_id = user_id
        self.http = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.token(user_id)}", "Tus-Resumable": "1.0.0"},
            timeout=30,
        )

    def create(self, length: int, body: bytes | None = None, **headers: str) -> httpx.Response:
        sent = {"Upload-Length": str(length), **headers}
        if body is not None:
            sent |= OFFSET_STREAM
        return self.http.post(TUS, headers=sent, content=body)

    def create_url(self, length: int, **headers: str) -> str:
        response = self.create(length, **headers)
        assert response.status_code == 201, response.text
        return response.headers["Location"]

    def patch(self, url: str, offset: int, data: bytes, **headers: str) -> httpx.Response:
        sent = {"Upload-Offset": str(offset), **OFFSET_STREAM, **headers}
        return self.http.patch(url, headers=sent, content=data)

    def head(self, url: str) -> httpx.Response:
        return self.http.head(url)

    def close(self) -> None:
        self.http.close()


def upload_id_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture
def tus(server: LiveServer, user_id: int) -> Iterator[Tus]:
    """Raw tus as the test's user (the same one ``client`` is)."""
    client = Tus(server, user_id)
    yield client
    client.close()
