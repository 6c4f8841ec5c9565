"""Two nodes on one PostgreSQL database deliver one outbox; one of them is killed.

Both nodes claim due rows all the time (tiny poll interval, a receiver that
refuses some first attempts so retries race too). The receiver holds every
request a while and counts deliveries of one ``webhook-id`` in flight at the
same time: there must be none. Half-way, one node gets ``kill -9`` while it
has attempts in flight: what it had claimed is taken over by the other once
the lease runs out, and every event still arrives.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chunkup.auth import mint_token
from tests.postgres import TemplateDatabase
from tests.support import SECRET, ServerProcess, md5_of, noise_image
from tests.webhooks.conftest import WEBHOOK_SECRET
from tests.webhooks.receiver import Delivery, Receiver

SENDER_TIMEOUT = 3.0  # CHUNKUP_WEBHOOK_TIMEOUT of both nodes

UPLOADS = 16


def flaky(delivery: Delivery, attempt: int) -> tuple[int, str]:
    return (503, "") if attempt == 1 and int(delivery.webhook_id[-1], 16) % 3 == 0 else (200, "")


@pytest.fixture
def nodes(
    tmp_path: Path, pg_template: TemplateDatabase, receiver: Receiver
) -> Iterator[list[ServerProcess]]:
    receiver.answer = flaky
    receiver.hold = 0.15
    # an attempt a node gave up on (its 3 s timeout passed while the receiver held the
    # answer) is over for the cluster: its retry is no second attempt in flight
    receiver.sender_timeout = SENDER_TIMEOUT
    with pg_template.fresh() as database_url:
        env = {
            "CHUNKUP_DATABASE_URL": database_url,
            "CHUNKUP_STORAGE_URL": (tmp_path / "storage").as_uri(),
            "CHUNKUP_JWT_SECRET": SECRET,
            "CHUNKUP_MIGRATE_ON_START": "false",
            "CHUNKUP_LOG_LEVEL": "warning",
            "CHUNKUP_WEBHOOK_URLS": receiver.url,
            "CHUNKUP_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "CHUNKUP_WEBHOOK_POLL_INTERVAL": "0.02",
            "CHUNKUP_WEBHOOK_RETRY_BASE": "PT0.05S",
            "CHUNKUP_WEBHOOK_RETRY_MAX": "PT0.1S",
            "CHUNKUP_WEBHOOK_TIMEOUT": str(SENDER_TIMEOUT),
            "CHUNKUP_WEBHOOK_CONCURRENCY": "4",
        }
        started = []
        try:
            for i in range(2):
                node_dir = tmp_path / f"node{i}"
                node_dir.mkdir()
                node_env = {**env, "CHUNKUP_DATA_DIR": str(node_dir / "data")}
                started.append(ServerProcess(node_dir, env=node_env).start())
            yield started
        finally:
            for node in started:
                node.stop()


def make_media(url: str, token: str, i: int) -> str:
    """One Media made on the node at ``url``; its file URL (which names it)."""
    image = noise_image(24, 24)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        first = http.post(
            "/api/v2/media/upload/chunk/",
            headers={"Content-Range": f"bytes 0-{len(image) - 1}/{len(image)}"},
            files={"image": (f"n{i}.png", image)},
        )
        assert first.status_code == 201, first.text
        done = http.post(
            "/api/v2/media/upload/complete/",
            data={"upload_id": first.json()["upload_id"], "md5": md5_of(image)},
        )
        assert done.status_code == 201, done.text
        image_url: str = done.json()["image"]
        return image_url.split("/media/", 1)[1]


def test_two_nodes_deliver_each_event_with_never_two_attempts_in_flight(
    nodes: list[ServerProcess], receiver: Receiver
):
    token = mint_token(SECRET, 6)
    made: list[str] = []
    lock = threading.Lock()

    def produce(node: int, count: int, offset: int) -> None:
        for i in range(count):
            name = make_media(nodes[node].url, token, offset + i)
            with lock:
                made.append(name)

    receiver.stop()  # the first half waits in the outbox, retried on both nodes
    first_half = [
        threading.Thread(target=produce, args=(n, UPLOADS // 4, n * 100)) for n in range(2)
    ]
    for thread in first_half:
        thread.start()
    for thread in first_half:
        thread.join(timeout=120)
    # back, but holding every answer: both nodes fill their 4 slots with attempts,
    # so more than 4 in flight means node 0 holds some when it is killed
    receiver.gate = threading.Event()
    receiver.restart()
    receiver.wait_for(lambda r: r.in_flight() > 4)
    nodes[0].process.kill()
    nodes[0].process.wait(timeout=10)
    receiver.gate.set()
    produce(1, UPLOADS // 2, 200)
    assert len(made) == UPLOADS

    def all_arrived(r: Receiver) -> bool:
        return {_name(d) for d in r.accepted()} >= set(made)

    receiver.wait_for(all_arrived, timeout=90)  # node 0's claims: after their lease (11 s)
    accepted = receiver.accepted()
    duplicates = len(accepted) - len({d.webhook_id for d in accepted})
    lost = set(made) - {_name(d) for d in accepted}
    print(
        f"\ntwo nodes: events {UPLOADS}, attempts {len(receiver.deliveries)}, "
        f"overlapping attempts of one webhook-id {receiver.overlaps}, "
        f"duplicates seen {duplicates}, events lost {len(lost)}"
    )
    assert receiver.overlaps == 0
    assert not lost


def _name(delivery: Delivery) -> str:
    image: str = delivery.event["data"]["media"]["image"]
    return image.split("/media/", 1)[1]
