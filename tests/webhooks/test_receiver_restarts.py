"""A receiver that goes down and comes back, several times, while media are made.

Every event must arrive (at least once), each under one ``webhook-id`` however
often it was tried; the figures (events sent, receiver restarts, duplicates
seen, events lost) are printed for the closing note.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks import Webhook

from chunkup.db import Database
from chunkup.db.outbox import OutboxRow
from chunkup.settings import Settings
from chunkup.webhooks import admin
from tests.support import FakeClock, LiveServer, noise_image, settings_for
from tests.webhooks.conftest import WEBHOOK_SECRET, webhook_settings
from tests.webhooks.receiver import Delivery, Receiver

MEDIA = 24
DELETED_EVERY = 3  # every third Media is deleted again: a media.deleted event


class WallClock(FakeClock):
    """The real time: retries here wait for real (tiny) backoffs."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)


def flaky(delivery: Delivery, attempt: int) -> tuple[int, str]:
    """Up, but refusing the first attempt of every fourth event: retries while it is up."""
    return (
        (503, "busy") if attempt == 1 and int(delivery.webhook_id[-1], 16) % 4 == 0 else (200, "")
    )


class Producer(threading.Thread):
    """Makes the media (and deletes some), counting the events it caused."""

    def __init__(self, server: LiveServer) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.expected: set[tuple[str, str]] = set()
        self.made = threading.Condition()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.server.client(4) as client:
                for i in range(MEDIA):
                    media = client.upload(noise_image(24, 24), filename=f"p{i}.png").json()
                    # a Media's file URL names it (SQLite may give a deleted Media's id again)
                    events = {("media.created", media["image"])}
                    if i % DELETED_EVERY == 0:
                        client.http.delete(f"/api/v2/media/{media['id']}/").raise_for_status()
                        events.add(("media.deleted", media["image"]))
                    with self.made:
                        self.expected |= events
                        self.made.notify_all()
        except BaseException as exc:  # reported by the test
            self.error = exc
            with self.made:
                self.made.notify_all()

    def wait_for(self, count: int) -> None:
        with self.made:
            assert self.made.wait_for(
                lambda: len(self.expected) >= count or self.error is not None, timeout=60
            ), (len(self.expected), count, self.error)


def test_every_event_arrives_though_the_receiver_restarts_mid_stream(tmp_path: Path):
    receiver = Receiver(answer=flaky).start()
    settings = settings_for(tmp_path / "data", **webhook_settings(receiver))
    server = LiveServer(settings, clock=WallClock()).start()
    producer = Producer(server)
    try:
        producer.start()
        total = MEDIA + (MEDIA + DELETED_EVERY - 1) // DELETED_EVERY
        for stop_at, start_at in ((4, 9), (12, 18), (20, 26)):
            producer.wait_for(stop_at)
            receiver.stop()  # down: deliveries fail and are retried later
            producer.wait_for(min(start_at, total))
            receiver.restart()
        producer.join(timeout=120)
        assert producer.error is None, producer.error
        assert len(producer.expected) == total

        def every_event_in(r: Receiver) -> bool:
            return {_key(d) for d in r.accepted()} >= producer.expected

        receiver.wait_for(every_event_in, timeout=60)
    finally:
        server.stop()
        receiver.stop()

    accepted = receiver.accepted()
    verifier = Webhook(WEBHOOK_SECRET)
    for delivery in accepted:
        verifier.verify(delivery.body, delivery.headers)
    ids_per_event: dict[tuple[str, str], set[str]] = {}
    for delivery in receiver.deliveries:  # refused attempts too
        ids_per_event.setdefault(_key(delivery), set()).add(delivery.webhook_id)
    assert all(len(ids) == 1 for ids in ids_per_event.values())  # stable across retries
    received = {_key(d) for d in accepted}
    lost = producer.expected - received
    duplicates = len(accepted) - len({d.webhook_id for d in accepted})
    refused = len(receiver.deliveries) - len(accepted)
    rows = outbox_rows(settings)
    assert {row.status for row in rows} == {"delivered"}
    print(
        f"\nwebhook figures: events sent {len(producer.expected)}, receiver restarts "
        f"{receiver.restarts}, attempts {sum(row.attempts for row in rows)} (refused by the "
        f"receiver {refused}, the others while it was down), duplicates seen {duplicates}, "
        f"events lost {len(lost)}"
    )
    assert not lost
    assert refused > 0  # retries did happen under the same webhook-id


def outbox_rows(settings: Settings) -> list[OutboxRow]:
    """The server's outbox, read once it has stopped."""

    async def read() -> list[OutboxRow]:
        db = Database(settings.resolved_database_url)
        try:
            return await admin.list_events(db, failed_only=False)
        finally:
            await db.dispose()

    return asyncio.run(read())


def _key(delivery: Delivery) -> tuple[str, str]:
    event = delivery.event
    return event["type"], event["data"]["media"]["image"]
