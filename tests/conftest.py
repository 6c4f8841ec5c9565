from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ChunkClient, LiveServer, settings_for


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(settings_for(tmp_path / "data")).start()
    yield live
    live.stop()


@pytest.fixture
def client(server: LiveServer) -> Iterator[ChunkClient]:
    with server.client(1) as c:
        yield c


@pytest.fixture
def other_client(server: LiveServer) -> Iterator[ChunkClient]:
    with server.client(2) as c:
        yield c
