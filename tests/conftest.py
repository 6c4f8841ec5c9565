"""Fixtures: one live server per test module and backend, a fresh user per test.

Starting and stopping a server costs far more than most tests' bodies, so the
contract suite shares one server per module and backend combination, and each
test talks to it as a user of its own (``client``, ``other_client``, ``user_id``):
user ids are free (tokens are minted per user), so tests cannot see each other's
uploads, media, open-upload caps or rate limits.

A test that needs a server to itself (it moves the clock, or starts several
servers on one database) says so with ``@pytest.mark.own_server``: ``server``
is then started for it alone on a fresh backend. A test that moves the shared
server's clock without the mark fails, naming the mark.

Backends: SQLite + local disk, PostgreSQL + local disk and PostgreSQL + S3
(SeaweedFS's gateway, started for the session). ``CHUNKUP_TEST_BACKENDS`` (comma
separated ids) narrows the set, e.g. ``CHUNKUP_TEST_BACKENDS=sqlite-disk``. A module
marked ``backend_agnostic`` (OpenAPI, CORS, ...) runs on the first selected
backend only: what it tests does not touch the database or storage.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import postgres
from tests.seaweed import Seaweed, run_seaweed
from tests.support import ChunkClient, LiveServer, settings_for

BACKENDS = ["sqlite-disk", "postgres-disk", "postgres-s3"]
SELECTED = [b for b in os.environ.get("CHUNKUP_TEST_BACKENDS", ",".join(BACKENDS)).split(",") if b]

# user ids handed to tests; the servers are per process, so per-process uniqueness is enough
_user_ids = itertools.count(1000)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "own_server: the test gets a server (and backend) of its own instead of the module's "
        "shared one, e.g. because it moves the server's clock",
    )
    config.addinivalue_line(
        "markers",
        "backend_agnostic: the module's tests do not depend on the database or storage; "
        "they run on one backend only",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``backend_name`` per module, so a module's tests share its servers."""
    if "backend_name" not in metafunc.fixturenames:
        return
    names = SELECTED[:1] if metafunc.definition.get_closest_marker("backend_agnostic") else SELECTED
    metafunc.parametrize("backend_name", names, indirect=True, scope="module")


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


@pytest.fixture(scope="module")
def backend_name(request: pytest.FixtureRequest) -> str:
    """The backend combination this module's tests run on (see ``pytest_generate_tests``)."""
    name: str = request.param
    return name


@contextmanager
def fresh_backend(name: str, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Settings overrides for an empty database and storage of backend ``name``."""
    if name == "sqlite-disk":
        yield {}  # the data directory holds both
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
def backend(request: pytest.FixtureRequest, backend_name: str) -> Iterator[dict[str, str]]:
    """Settings overrides that put a server of the test's own on one backend combination
    (a fresh database and storage for this test)."""
    with fresh_backend(backend_name, request) as overrides:
        yield overrides


@pytest.fixture(scope="module")
def shared_server(
    request: pytest.FixtureRequest, backend_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The module's server on ``backend_name``, shared by its tests."""
    with fresh_backend(backend_name, request) as overrides:
        data_dir = tmp_path_factory.mktemp(f"server-{backend_name}") / "data"
        live = LiveServer(settings_for(data_dir, **overrides)).start()
        yield live
        live.stop()


@pytest.fixture
def server(request: pytest.FixtureRequest, backend_name: str) -> Iterator[LiveServer]:
    """The server this test talks to: the module's shared one, or with
    ``@pytest.mark.own_server`` one started for this test alone."""
    if request.node.get_closest_marker("own_server"):
        overrides: dict[str, str] = request.getfixturevalue("backend")
        tmp_path: Path = request.getfixturevalue("tmp_path")
        live = LiveServer(settings_for(tmp_path / "data", **overrides), user=new_user_id())
        yield live.start()
        live.stop()
        return
    shared: LiveServer = request.getfixturevalue("shared_server")
    before = shared.clock.now
    shared.user = new_user_id()  # server.token() and server.client() are this test's user
    yield shared
    if shared.clock.now != before:
        shared.clock.now = before  # the module's other tests keep a sane clock
        pytest.fail(
            "the test moved the shared server's clock: mark it @pytest.mark.own_server",
            pytrace=False,
        )


@pytest.fixture
def user_id(server: LiveServer) -> int:
    """The test's own user (``server.user``): nobody else's uploads, media or limits."""
    return server.user


def new_user_id() -> int:
    """Another fresh user id (for tests that need several users)."""
    return next(_user_ids)


@pytest.fixture
def client(server: LiveServer) -> Iterator[ChunkClient]:
    """A chunk client as the test's user."""
    with server.client() as c:
        yield c


@pytest.fixture
def other_client(server: LiveServer) -> Iterator[ChunkClient]:
    with server.client(new_user_id()) as c:
        yield c
