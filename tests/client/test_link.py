"""Bad links: connections dropped, cut mid-chunk and slowed; and what parallel chunks buy."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from chunkup.client import AsyncClient, Client, Media, Retry
from tests.client.proxy import Proxy
from tests.support import LiveServer, md5_of, noise_image

# the SDK speaks HTTP: what it is tested for does not depend on the server's backend
pytestmark = pytest.mark.backend_agnostic

QUICK_RETRY = Retry(attempts=10, backoff=0.05, max_backoff=0.5)


def flaky_link(server: LiveServer) -> Proxy:
    """Every fifth connection dropped at once, the others delayed and cut after ~1.5 chunks."""
    return Proxy(
        server.port,
        drop_every=5,
        connect_delay=0.03,
        latency=0.01,
        connection_budget=300_000,
    )


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_an_upload_over_a_flaky_link_completes_with_the_right_md5(
    server: LiveServer, photo: Path, flavour: str
):
    data = photo.read_bytes()
    with flaky_link(server) as proxy:
        if flavour == "sync":
            with Client(proxy.url, server.token(), retry=QUICK_RETRY) as client:
                media = client.upload(photo, parallel=4)
        else:

            async def run() -> Media:
                async with AsyncClient(proxy.url, server.token(), retry=QUICK_RETRY) as client:
                    return await client.upload(photo, parallel=4)

            media = asyncio.run(run())
    assert proxy.dropped >= 1 and proxy.cut >= 1, "the link was not flaky"
    assert media.size == len(data)  # the server checked the MD5 at completion
    served = httpx.get(f"{server.url}/{media.image.split('/', 3)[3]}")  # type: ignore[union-attr]
    assert md5_of(served.content) == md5_of(data)


def test_parallel_chunks_beat_one_at_a_time_over_a_link_with_latency(
    local_server: LiveServer, tmp_path: Path
):
    path = tmp_path / "five-mib.png"
    path.write_bytes(noise_image(1280, 1360))  # 5.0 MiB of noise, just under the image limit
    assert 5_000_000 < path.stat().st_size <= 5 * 1024 * 1024
    seconds: dict[int, float] = {}
    sending: dict[int, float] = {}  # until the last chunk is stored, before the completion
    with Proxy(local_server.port, latency=0.02) as proxy:
        with Client(proxy.url, local_server.token()) as client:
            for parallel in (1, 4):
                marks: list[float] = []
                started = time.perf_counter()
                media = client.upload(
                    path,
                    parallel=parallel,
                    progress=lambda *_, marks=marks: marks.append(time.perf_counter()),
                )
                seconds[parallel] = time.perf_counter() - started
                sending[parallel] = marks[-1] - started
                assert media.size == path.stat().st_size
    print(
        f"\n5 MiB over +20 ms per answer: parallel=1 {seconds[1]:.2f} s, parallel=4 "
        f"{seconds[4]:.2f} s: {seconds[1] / seconds[4]:.2f}x faster; the chunks alone "
        f"{sending[1]:.2f} s vs {sending[4]:.2f} s: {sending[1] / sending[4]:.2f}x"
    )
    assert seconds[4] < seconds[1]
