"""Three stateless nodes on PostgreSQL + S3 (SeaweedFS), one of them killed mid-run.

A client spreads the chunks of several uploads round-robin over the nodes, in
parallel, retrying a chunk on the next node when one fails, and completes every
upload on two nodes at once. One node gets ``kill -9`` half-way. Every upload
must end as exactly one Media whose served bytes have the right MD5.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from chunkup.auth import mint_token
from tests.postgres import TemplateDatabase
from tests.robustness.test_concurrency import pdf_like
from tests.seaweed import Seaweed
from tests.support import CHUNK, SECRET, ServerProcess, free_port, md5_of

UPLOADS = 6
CHUNKS_EACH = 16


class Cluster:
    def __init__(self, nodes: list[ServerProcess]) -> None:
        self.nodes = nodes
        self.alive = [True] * len(nodes)
        self.lock = threading.Lock()
        self.turn = 0

    def next_url(self) -> str:
        with self.lock:
            for _ in range(len(self.nodes)):
                self.turn = (self.turn + 1) % len(self.nodes)
                if self.alive[self.turn]:
                    return self.nodes[self.turn].url
        raise RuntimeError("no node left")

    def kill(self, index: int) -> None:
        with self.lock:
            self.alive[index] = False
        self.nodes[index].process.kill()
        self.nodes[index].process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path, pg_template: TemplateDatabase, seaweed: Seaweed) -> Iterator[Cluster]:
    with pg_template.fresh() as database_url:
        public_port = free_port()
        env = {
            "CHUNKUP_DATABASE_URL": database_url,
            "CHUNKUP_STORAGE_URL": seaweed.storage_url(f"cluster-{os.getpid()}-{public_port}"),
            "CHUNKUP_JWT_SECRET": SECRET,
            "CHUNKUP_MIGRATE_ON_START": "false",
            "CHUNKUP_LOG_LEVEL": "warning",
        }
        nodes = []
        for i in range(3):
            node_dir = tmp_path / f"node{i}"
            node_dir.mkdir()
            nodes.append(
                ServerProcess(node_dir, env={**env, "CHUNKUP_DATA_DIR": str(node_dir / "data")})
            )
        try:
            for node in nodes:
                node.start()
            yield Cluster(nodes)
        finally:
            for node in nodes:
                node.stop()


def send(cluster: Cluster, token: str, data: bytes, start: int, upload_id: str | None) -> dict:
    """One chunk, on the next live node; on a failed node, again on the next one."""
    end = min(start + CHUNK, len(data)) - 1
    for _attempt in range(6):
        url = cluster.next_url()
        try:
            with httpx.Client(base_url=url, timeout=60) as http:
                response = http.post(
                    "/api/v2/media/upload/chunk/",
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Range": f"bytes {start}-{end}/{len(data)}",
                    },
                    data={"upload_id": upload_id} if upload_id else {},
                    files={"document": ("cluster.pdf", data[start : end + 1])},
                )
        except httpx.TransportError:
            continue  # that node died: the next one takes the retry
        # a retry of a chunk a dead node did store is an exact repeat: 201 again
        assert response.status_code == 201, response.text
        return response.json()
    raise AssertionError(f"chunk {start} of {upload_id} failed on every node")


def complete_on_two_nodes(cluster: Cluster, token: str, upload_id: str, md5: str) -> list[dict]:
    def one() -> dict:
        for _attempt in range(6):
            try:
                with httpx.Client(base_url=cluster.next_url(), timeout=120) as http:
                    response = http.post(
                        "/api/v2/media/upload/complete/",
                        headers={"Authorization": f"Bearer {token}"},
                        data={"upload_id": upload_id, "md5": md5, "type": "doc"},
                    )
            except httpx.TransportError:
                continue
            assert response.status_code == 201, response.text
            return response.json()
        raise AssertionError("complete failed on every node")

    with ThreadPoolExecutor(2) as pool:
        return [f.result() for f in [pool.submit(one), pool.submit(one)]]


def test_uploads_spread_over_three_nodes_survive_a_node_kill(cluster: Cluster):
    token = mint_token(SECRET, 1)
    files = [pdf_like(CHUNKS_EACH * CHUNK - random.randrange(1, CHUNK)) for _ in range(UPLOADS)]
    ids = [send(cluster, token, data, 0, None)["upload_id"] for data in files]
    work = [(i, start) for i, data in enumerate(files) for start in range(CHUNK, len(data), CHUNK)]
    random.shuffle(work)
    killed_at = len(work) // 2
    sent = 0
    with ThreadPoolExecutor(8) as pool:
        futures = []
        for n, (i, start) in enumerate(work):
            if n == killed_at:
                for future in futures:  # the first half is in; now a node dies mid-run
                    future.result()
                cluster.kill(1)
            futures.append(pool.submit(send, cluster, token, files[i], start, ids[i]))
        for future in futures:
            future.result()
            sent += 1
    failures = 0
    for upload_id, data in zip(ids, files, strict=True):
        first, second = complete_on_two_nodes(cluster, token, upload_id, md5_of(data))
        assert first["id"] == second["id"]  # racing completes on two nodes: one Media
        served = httpx.get(first["url"], timeout=60).content
        failures += md5_of(served) != md5_of(data)
    with httpx.Client(base_url=cluster.next_url(), timeout=30) as http:
        listed = http.get("/api/v2/media/?limit=100", headers={"Authorization": f"Bearer {token}"})
    assert listed.json()["count"] == UPLOADS
    print(
        f"\n[cluster] nodes=3 uploads={UPLOADS} chunks={UPLOADS + sent} "
        f"node_kills=1 failures={failures}"
    )
    assert failures == 0
