"""The outbox's rules, in-process on a real SQLite file, with the clock moved by hand.

A receiver here is an httpx ``MockTransport``: these tests are about when the
deliverer tries, gives up and takes over, not about the network (the other
files drive real servers and a real receiver).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx

from chunkup.db import Connection, Database, outbox
from chunkup.models import Kind, Upload, UploadStatus
from chunkup.settings import Settings
from chunkup.webhooks.delivery import Deliverer, retry_delay
from chunkup.webhooks.events import Outbox
from tests.support import FakeClock, settings_for
from tests.webhooks.conftest import WEBHOOK_SECRET

URL = "http://receiver.test/hooks"


class Recorder:
    """A receiver answering each attempt from a script of statuses (then 200)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)


def settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "webhook_urls": URL,
        "webhook_secret": WEBHOOK_SECRET,
        "webhook_retry_base": "PT10S",
        "webhook_retry_max": "PT1H",
        "webhook_retry_horizon": "PT24H",
        "webhook_timeout": 5.0,
    }
    return settings_for(tmp_path, **(values | overrides))


async def record_expiry(db: Database, clock: FakeClock) -> None:
    """One ``upload.expired`` event, written as the collector writes it."""
    now = clock()
    upload = Upload("a" * 32, 1, Kind.IMAGE, 10, "x.png", [], UploadStatus.UPLOADING, now, now)
    events = Outbox([URL], ["upload.expired"], retry_horizon=timedelta(hours=24), clock=clock)
    await db.write(lambda conn: events.upload_expired(conn, upload))


def deliverer(
    db: Database, clock: FakeClock, tmp_path: Path, recorder: Recorder, **kw: object
) -> Deliverer:
    return Deliverer(
        db,
        settings(tmp_path, **kw),
        clock,
        transport=httpx.MockTransport(recorder),
        rand=lambda: 1.0,  # the top of the jitter range: exact delays to check
    )


async def rows(db: Database) -> list[outbox.OutboxRow]:
    return await db.read(outbox.list_events)


def test_backoff_doubles_up_to_its_ceiling_within_its_jitter():
    base, ceiling = timedelta(seconds=5), timedelta(minutes=1)
    assert [retry_delay(n, base, ceiling, lambda: 1.0).total_seconds() for n in range(1, 7)] == [
        5,
        10,
        20,
        40,
        60,
        60,
    ]
    assert retry_delay(3, base, ceiling, lambda: 0.0) == timedelta(seconds=10)  # half: jitter


async def test_a_failing_receiver_is_retried_with_backoff_under_the_same_webhook_id(
    db: Database, tmp_path: Path
):
    clock, recorder = FakeClock(), Recorder(503, 500)
    await record_expiry(db, clock)
    sender = deliverer(db, clock, tmp_path, recorder)
    try:
        assert await sender.deliver_due() == 1  # 503
        assert await sender.deliver_due() == 0  # not due for 10 s
        clock.advance(timedelta(seconds=10))
        assert await sender.deliver_due() == 1  # 500, next in 20 s
        clock.advance(timedelta(seconds=19))
        assert await sender.deliver_due() == 0
        clock.advance(timedelta(seconds=1))
        assert await sender.deliver_due() == 1  # 200
    finally:
        await sender.aclose()
    (row,) = await rows(db)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    assert {r.headers["webhook-id"] for r in recorder.seen} == {row.event_id}
    assert len({r.content for r in recorder.seen}) == 1  # the same body every time


async def test_an_event_failing_past_the_horizon_is_failed_and_listed_then_retried_by_cli(
    db: Database, tmp_path: Path
):
    clock, recorder = FakeClock(), Recorder(*([503] * 100))
    await record_expiry(db, clock)
    sender = deliverer(db, clock, tmp_path, recorder)
    try:
        attempts = 0
        while (await rows(db))[0].status == "pending":
            attempts += await sender.deliver_due()
            clock.advance(timedelta(minutes=30))
    finally:
        await sender.aclose()
    (row,) = await rows(db)
    assert row.status == "failed" and row.last_error == "HTTP 503"
    # tried for the whole horizon (24 h), at most an hour apart once backed off
    assert row.next_attempt_at - row.created_at >= timedelta(hours=24) - timedelta(hours=1)
    assert attempts == row.attempts >= 24

    env = {**os.environ, "CHUNKUP_DATA_DIR": str(tmp_path)}

    def chunkup(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chunkup", "webhooks", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    listed = [json.loads(line) for line in chunkup("list", "--failed").stdout.splitlines()]
    assert [(e["id"], e["webhook_id"], e["status"]) for e in listed] == [
        (row.id, row.event_id, "failed")
    ]
    assert chunkup("retry", "999").returncode == 1  # no such event
    retried = chunkup("retry", str(row.id))
    assert retried.returncode == 0, retried.stderr
    assert chunkup("list", "--failed").stdout == ""

    recorder = Recorder()  # the receiver is fixed
    sender = deliverer(db, clock, tmp_path, recorder)
    try:
        clock.now = max(clock.now, (await rows(db))[0].next_attempt_at)
        assert await sender.deliver_due() == 1
    finally:
        await sender.aclose()
    (row,) = await rows(db)
    assert row.status == "delivered"
    assert recorder.seen[0].headers["webhook-id"] == row.event_id


async def test_a_claim_of_a_dead_node_is_taken_over_only_once_its_lease_ran_out(
    db: Database, tmp_path: Path
):
    clock, recorder = FakeClock(), Recorder()
    await record_expiry(db, clock)
    # a node claims the row for an attempt and dies before recording anything
    now = clock()
    lease = timedelta(seconds=15)
    dead = await db.write(
        partial(outbox.claim_due, now=now, until=now + lease, claim="dead", limit=8)
    )
    assert len(dead) == 1
    sender = deliverer(db, clock, tmp_path, recorder)
    try:
        assert await sender.deliver_due() == 0  # still the dead node's
        clock.advance(lease)
        assert await sender.deliver_due() == 0  # not before the lease has passed
        clock.advance(timedelta(seconds=1))
        assert await sender.deliver_due() == 1
    finally:
        await sender.aclose()
    (row,) = await rows(db)
    assert (row.status, row.attempts) == ("delivered", 2)
    # the dead node's late outcome, should it come back, changes nothing
    assert not await db.write(
        partial(outbox.mark_attempt_failed, row_id=row.id, claim="dead", error="x", retry_at=now)
    )
    assert (await rows(db))[0].status == "delivered"


async def test_no_row_is_claimed_twice_by_concurrent_claims(db: Database, tmp_path: Path):
    clock = FakeClock()
    for _ in range(20):
        await record_expiry(db, clock)
    now = clock()

    def claim(name: str) -> Callable[[Connection], list[outbox.OutboxRow]]:
        return partial(
            outbox.claim_due, now=now, until=now + timedelta(minutes=1), claim=name, limit=8
        )

    batches = await asyncio.gather(*(db.write(claim(f"node{i}")) for i in range(4)))
    ids = [row.id for batch in batches for row in batch]
    assert len(ids) == len(set(ids)) == 20
