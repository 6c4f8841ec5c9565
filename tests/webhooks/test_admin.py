"""What an operator does with the outbox (``chunkup webhooks list`` / ``retry``), in-process
on a real SQLite file: ``tests/webhooks/test_outbox.py`` drives the commands themselves
as processes; here are the rules behind them, one per test."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from chunkup.db import Connection, Database, outbox
from chunkup.webhooks import admin
from tests.support import FakeClock

RECEIVERS = ["http://a.test/hooks", "http://b.test/hooks"]
HORIZON = timedelta(hours=24)


async def record_event(db: Database, clock: FakeClock, event_id: str) -> list[outbox.OutboxRow]:
    """One event for both receivers, as the outbox records it; its rows."""
    now = clock()
    events = [
        outbox.NewEvent(event_id, "upload.expired", url, "{}", now, now + HORIZON)
        for url in RECEIVERS
    ]
    await db.write(partial(outbox.add_events, events=events))
    return [row for row in await db.read(outbox.list_events) if row.event_id == event_id]


async def give_up(db: Database, clock: FakeClock, *rows: outbox.OutboxRow) -> None:
    """The deliverer's last attempt at each of ``rows`` fails: they are failed for good
    (the other due rows it claimed on the way are due again at once)."""
    now = clock()
    ids = {row.id for row in rows}

    def claim_and_fail(conn: Connection) -> None:
        until = now + timedelta(seconds=15)
        claimed = outbox.claim_due(conn, now=now, until=until, claim="n1", limit=100)
        assert ids <= {c.id for c in claimed}
        for row in claimed:
            retry_at = None if row.id in ids else now
            outbox.mark_attempt_failed(conn, row.id, "n1", error="HTTP 503", retry_at=retry_at)

    await db.write(claim_and_fail)


async def statuses(db: Database) -> dict[int, str]:
    return {row.id: row.status for row in await admin.list_events(db, failed_only=False)}


async def test_list_shows_every_event_and_failed_only_those_that_exhausted_their_retries(
    db: Database,
) -> None:
    clock = FakeClock()
    first = await record_event(db, clock, "msg_first")
    second = await record_event(db, clock, "msg_second")
    await give_up(db, clock, first[1])

    everything = await admin.list_events(db, failed_only=False)
    failed = await admin.list_events(db, failed_only=True)

    assert [r.id for r in everything] == [r.id for r in first + second]
    assert [(r.id, r.url, r.status, r.last_error) for r in failed] == [
        (first[1].id, RECEIVERS[1], "failed", "HTTP 503")
    ]


async def test_retry_by_row_id_requeues_that_receiver_only_due_now_with_a_fresh_horizon(
    db: Database,
) -> None:
    clock = FakeClock()
    rows = await record_event(db, clock, "msg_one")
    await give_up(db, clock, *rows)
    clock.advance(timedelta(days=2))

    queued = await admin.retry(db, str(rows[0].id), now=clock(), horizon=HORIZON)

    assert queued == 1
    after = {r.id: r for r in await admin.list_events(db, failed_only=False)}
    assert after[rows[0].id].status == "pending"
    assert after[rows[0].id].next_attempt_at == clock()
    assert after[rows[0].id].give_up_at == clock() + HORIZON
    assert after[rows[1].id].status == "failed"  # the other receiver's is left alone


async def test_retry_by_webhook_id_requeues_the_event_for_every_receiver(db: Database) -> None:
    clock = FakeClock()
    rows = await record_event(db, clock, "msg_both")
    other = await record_event(db, clock, "msg_other")
    await give_up(db, clock, *rows, *other)

    queued = await admin.retry(db, "msg_both", now=clock(), horizon=HORIZON)

    assert queued == 2
    assert await statuses(db) == {
        rows[0].id: "pending",
        rows[1].id: "pending",
        other[0].id: "failed",
        other[1].id: "failed",
    }


async def test_retry_of_an_unknown_event_queues_nothing(db: Database) -> None:
    clock = FakeClock()
    rows = await record_event(db, clock, "msg_known")
    await give_up(db, clock, rows[0])

    assert await admin.retry(db, "999999", now=clock(), horizon=HORIZON) == 0
    assert await admin.retry(db, "msg_unknown", now=clock(), horizon=HORIZON) == 0
    assert (await statuses(db))[rows[0].id] == "failed"


async def test_retry_leaves_an_event_being_delivered_right_now_to_its_node(db: Database) -> None:
    """One attempt in flight at a time: a claimed row keeps its claim."""
    clock = FakeClock()
    (row, _other) = await record_event(db, clock, "msg_busy")
    now = clock()
    await db.write(
        partial(outbox.claim_due, now=now, until=now + timedelta(seconds=15), claim="n2", limit=1)
    )

    assert await admin.retry(db, str(row.id), now=now, horizon=HORIZON) == 0
    (claimed,) = [r for r in await admin.list_events(db, failed_only=False) if r.id == row.id]
    assert claimed.claim == "n2"
