"""Fixtures for the client tests: a server on the embedded backend, files, a request counter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import LiveServer, noise_image, pdf_document, settings_for


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server on SQLite + disk, for the tests about the link rather than the backend."""
    live = LiveServer(settings_for(tmp_path / "data")).start()
    yield live
    live.stop()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A PNG of about 1 MB: six chunks."""
    path = tmp_path / "photo.png"
    path.write_bytes(noise_image(600, 600))
    return path


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf_document(pages=2))
    return path


class CountingTransport(httpx.HTTPTransport):
    """The real transport, counting requests by status."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses.append(response.status_code)
        return response
