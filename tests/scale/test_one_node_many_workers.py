"""One node, two worker processes (`chunkup serve --workers 2`): its figures are the node's.

The kernel hands each connection to either worker. `/metrics` sums both workers'
counts on every scrape, the per-user rate limit is spent once for the node, and
`CHUNKUP_METRICS_TOKEN` keeps `/metrics` to the scraper. Requests are sent many at
once on fresh connections so that both workers serve some; each test checks that
they did (a worker's metrics file names the routes it served).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from chunkup.auth import mint_token
from tests.support import SECRET, ServerProcess

BURST = 20
METRICS_TOKEN = "scrape-me"
REQUESTS = 80


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One node for the module (two workers take seconds to start); each test uses
    its own route or user."""
    env = {
        "CHUNKUP_JWT_SECRET": SECRET,
        "CHUNKUP_RATE_LIMIT_PER_SECOND": "0.001",  # no refill while the test runs
        "CHUNKUP_RATE_LIMIT_BURST": str(BURST),
        "CHUNKUP_METRICS_TOKEN": METRICS_TOKEN,
    }
    server = ServerProcess(tmp_path_factory.mktemp("node"), "--workers", "2", env=env).start()
    try:
        wait_for_workers(server, 2)
        yield server
    finally:
        server.stop()


def wait_for_workers(server: ServerProcess, count: int) -> None:
    """Until ``count`` workers have started (the first one answering is not enough)."""
    log = server.cwd / f"server-{server.port}.log"
    deadline = time.monotonic() + 60
    while log.read_text().count("Application startup complete") < count:
        assert time.monotonic() < deadline, f"{count} workers did not start: {log.read_text()}"
        time.sleep(0.05)


def at_once(url: str, headers: dict[str, str]) -> list[int]:
    """``REQUESTS`` GETs of ``url``, 16 at a time, each on a connection of its own."""

    def one(_: int) -> int:
        return httpx.get(url, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(REQUESTS)))


def workers_that_served(data_dir: Path, route: str) -> int:
    """How many worker processes recorded a request of ``route`` (one file each)."""
    files = (data_dir / "metrics").glob("*/histogram_*.db")
    return sum(f'"{route}"'.encode() in path.read_bytes() for path in files)


def scrape(server: ServerProcess) -> str:
    answer = httpx.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert answer.status_code == 200
    return answer.text


def healthz_count(metrics: str) -> float:
    prefix = 'chunkup_request_duration_seconds_count{method="GET",route="/healthz",status="200"}'
    (line,) = (line for line in metrics.splitlines() if line.startswith(prefix))
    return float(line.rsplit(" ", 1)[1])


def test_every_scrape_counts_the_requests_of_both_workers(node: ServerProcess):
    assert at_once(f"{node.url}/healthz", {}) == [200] * REQUESTS
    assert workers_that_served(node.cwd / "chunkup-data", "/healthz") == 2

    assert [healthz_count(scrape(node)) for _ in range(6)] == [REQUESTS] * 6


def test_the_rate_limit_is_spent_once_for_the_node(node: ServerProcess):
    headers = {"Authorization": f"Bearer {mint_token(SECRET, 7)}"}

    statuses = at_once(f"{node.url}/api/v2/media/", headers)

    assert workers_that_served(node.cwd / "chunkup-data", "/api/v2/media/") == 2
    assert statuses.count(200) == BURST
    assert statuses.count(429) == REQUESTS - BURST


def test_metrics_without_the_token_is_401_with_a_json_error(node: ServerProcess):
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        answer = httpx.get(f"{node.url}/metrics", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["code"] == "invalid_token"
        assert "chunkup_" not in answer.text
