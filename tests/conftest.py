"""Fixtures: a live server per test, on every backend combination that is available.

``server`` runs the contract suite on SQLite + local disk, PostgreSQL + local
disk and PostgreSQL + S3 (SeaweedFS's gateway, started for the session).
``CHUNKUP_TEST_BACKENDS`` (comma separated ids) narrows the set, e.g.
``CHUNKUP_TEST_BACKENDS=sqlite-disk``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import postgres
from tests.seaweed import Seaweed, run_seaweed
from tests.support import ChunkClient, LiveServer, settings_for

BACKENDS = ["sqlite-disk", "postgres-disk", "postgres-s3"]
SELECTED = [b for b in os.environ.get("CHUNKUP_TEST_BACKENDS", ",".join(BACKENDS)).split(",") if b]


@pytest.fixture(scope="session")
def pg_template() -> Iterator[postgres.TemplateDatabase]:
    reason = postgres.unavailable()
    if reason:
        pytest.skip(reason)
    template = postgres.TemplateDatabase()
    template.create()
    yield template
    template.drop()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    """SeaweedFS (``weed mini``) on loopback ports, for the session."""
    with run_seaweed(tmp_path_factory.mktemp("seaweed")) as running:
        yield running


@pytest.fixture(params=SELECTED)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings overrides that put a server on one backend combination."""
    name: str = request.param
    if name == "sqlite-disk":
        yield {}
    elif name == "postgres-disk":
        template: postgres.TemplateDatabase = request.getfixturevalue("pg_template")
        with template.fresh() as database_url:
            yield {"database_url": database_url, "migrate_on_start": "false"}
    elif name == "postgres-s3":
        template = request.getfixturevalue("pg_template")
        seaweed: Seaweed = request.getfixturevalue("seaweed")
        with template.fresh() as database_url:
            yield {
                "database_url": database_url,
                "migrate_on_start": "false",
                "storage_url": seaweed.storage_url(f"t-{uuid.uuid4().hex}"),
            }
    else:
        raise ValueError(f"unknown backend {name!r}")


@pytest.fixture
def server(tmp_path: Path, backend: dict[str, str]) -> Iterator[LiveServer]:
    live = LiveServer(settings_for(tmp_path / "data", **backend)).start()
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
