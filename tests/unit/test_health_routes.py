"""``/readyz`` when the database or the storage fails for real, and ``/metrics`` behind
its token (``api/routes/health.py``), on the app in-process: its lifespan entered
here, requests through httpx's ``ASGITransport``.

A load balancer takes a node out of rotation on ``/readyz``'s 503 and back on its
200, so readiness is asked anew on every probe: the same app turns ready again
once what failed answers again, with no restart.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from chunkup.api import create_app
from chunkup.api.routes import health
from chunkup.settings import Settings
from tests import postgres
from tests.client.proxy import Proxy
from tests.support import FakeClock, assert_error, settings_for

READY = {"status": "ok", "database": "ok", "storage": "ok"}


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app on ``settings``, started and stopped as a server does (its lifespan)."""
    app = create_app(settings, clock=FakeClock())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node.test") as http:
            yield http


async def test_a_storage_root_that_is_not_a_directory_any_more_is_not_ready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path / "data")
    root = Path(settings.resolved_storage_url.removeprefix("file://"))
    async with running(settings) as http:
        assert (await http.get("/readyz")).json() == READY

        shutil.rmtree(root)
        root.write_bytes(b"")  # e.g. a volume that was not mounted, a path now a file
        failed = await http.get("/readyz")

        assert failed.status_code == 503
        assert failed.json() == {
            "status": "unavailable",
            "database": "ok",
            "storage": "unavailable",
        }
        assert "readiness: storage is not ready" in caplog.text
        assert (await http.get("/healthz")).status_code == 200  # the process itself is up

        root.unlink()
        root.mkdir()
        assert (await http.get("/readyz")).json() == READY


async def test_a_storage_root_that_is_gone_is_not_ready(tmp_path: Path) -> None:
    """A volume unmounted under a running node leaves no directory: nothing could be
    stored, so the node is taken out of rotation before a chunk finds out."""
    settings = settings_for(tmp_path / "data")
    root = Path(settings.resolved_storage_url.removeprefix("file://"))
    async with running(settings) as http:
        shutil.rmtree(root)
        failed = await http.get("/readyz")
        assert (failed.status_code, failed.json()["storage"]) == (503, "unavailable")

        root.mkdir()
        assert (await http.get("/readyz")).json() == READY


@pytest.fixture
def database_url(pg_template: postgres.TemplateDatabase) -> Iterator[str]:
    with pg_template.fresh() as url:
        yield url


async def test_a_database_the_node_cannot_reach_any_more_is_not_ready(
    tmp_path: Path, database_url: str
) -> None:
    """PostgreSQL behind a TCP proxy that is then shut down: the pool's connection is
    cut and no new one can be made, as when the database host goes away."""
    with ExitStack() as link_up:
        link = link_up.enter_context(Proxy(postgres.PORT))
        url = database_url.replace(f":{postgres.PORT}/", f":{link.port}/")
        settings = settings_for(tmp_path / "data", database_url=url, migrate_on_start=False)
        async with running(settings) as http:
            assert (await http.get("/readyz")).json() == READY
            link_up.close()  # the database host goes away

            failed = await http.get("/readyz")

    assert failed.status_code == 503
    assert failed.json() == {"status": "unavailable", "database": "unavailable", "storage": "ok"}


async def test_a_storage_that_never_answers_is_not_ready_after_the_probe_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An object store that accepts the connection and then says nothing must not
    hold the balancer's check for longer than the probe's timeout."""
    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.read()  # until either side closes

    store = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = store.sockets[0].getsockname()[1]
    monkeypatch.setattr(health, "PROBE_TIMEOUT", 0.5)
    storage_url = (
        f"s3://bucket/p?endpoint=http://127.0.0.1:{port}&region=us-east-1"
        "&access_key_id=k&secret_access_key=s"
    )
    settings = settings_for(tmp_path / "data", storage_url=storage_url)
    try:
        async with running(settings) as http:
            failed = await http.get("/readyz")
    finally:
        store.close()
        for writer in connections:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in connections), return_exceptions=True)

    assert connections  # the store was asked, and said nothing
    assert failed.status_code == 503
    assert failed.json() == {"status": "unavailable", "database": "ok", "storage": "unavailable"}


async def test_metrics_with_a_token_configured_need_that_bearer_token(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", metrics_token="scrape-me-please")
    async with running(settings) as http:
        missing = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer scrape-me-not"})
        basic = await http.get("/metrics", headers={"Authorization": "Basic scrape-me-please"})
        right = await http.get("/metrics", headers={"Authorization": "bearer  scrape-me-please"})

    for refused in (missing, wrong, basic):
        assert_error(refused, 401, "invalid_token")
        assert "CHUNKUP_METRICS_TOKEN" in refused.json()["detail"]
    assert right.status_code == 200
    assert "chunkup_chunks_total" in right.text
