"""The webhook outbox's statements, as functions of a connection the caller owns.

A row is one event for one receiver URL. Its life: ``pending`` (due at
``next_attempt_at``), claimed by one node for one attempt (``claim`` plus a
lease, ``claimed_until``), then ``delivered``, back to ``pending`` later, or
``failed`` once its retries are spent. A claim is a compare-and-set on the
row, so two nodes never hold the same row at once: on PostgreSQL the second
update waits for the first to commit and then finds the claim taken; on SQLite
writers take turns anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from chunkup.db.tables import webhook_outbox as t

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to record for one receiver."""

    event_id: str
    event_type: str
    url: str
    payload: str
    created_at: datetime
    give_up_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    event_id: str
    event_type: str
    url: str
    payload: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    give_up_at: datetime
    claim: str | None
    claimed_until: datetime | None
    last_error: str | None
    delivered_at: datetime | None


def _row(row: RowMapping) -> OutboxRow:
    return OutboxRow(**{name: row[name] for name in OutboxRow.__slots__})


def add_events(conn: Connection, events: Sequence[NewEvent]) -> None:
    if not events:
        return
    conn.execute(
        insert(t),
        [
            {
                "event_id": e.event_id,
                "event_type": e.event_type,
                "url": e.url,
                "payload": e.payload,
                "status": PENDING,
                "attempts": 0,
                "created_at": e.created_at,
                "next_attempt_at": e.created_at,
                "give_up_at": e.give_up_at,
            }
            for e in events
        ],
    )


def _claimable(now: datetime) -> Any:
    return (
        (t.c.status == PENDING)
        & (t.c.next_attempt_at <= now)
        & or_(t.c.claimed_until.is_(None), t.c.claimed_until < now)
    )


def claim_due(
    conn: Connection, *, now: datetime, until: datetime, claim: str, limit: int
) -> list[OutboxRow]:
    """Claim up to ``limit`` due rows for one attempt each, until ``until``.

    The rows are picked with ``SKIP LOCKED`` where the database has it (rows
    another node is claiming right now are left to it), then each is claimed
    by a conditional update that re-checks it is still free.
    """
    ids = list(
        conn.execute(
            select(t.c.id)
            .where(_claimable(now))
            .order_by(t.c.next_attempt_at, t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    claimed = []
    for row_id in ids:
        row = (
            conn.execute(
                update(t)
                .where(t.c.id == row_id, _claimable(now))
                .values(claim=claim, claimed_until=until, attempts=t.c.attempts + 1)
                .returning(*t.columns)
            )
            .mappings()
            .first()
        )
        if row is not None:
            claimed.append(_row(row))
    return claimed


def mark_delivered(conn: Connection, row_id: int, claim: str, *, at: datetime) -> bool:
    """The attempt under ``claim`` succeeded; False if the claim was lost meanwhile."""
    result = conn.execute(
        update(t)
        .where(t.c.id == row_id, t.c.claim == claim)
        .values(status=DELIVERED, delivered_at=at, claim=None, claimed_until=None, last_error=None)
    )
    return bool(result.rowcount)


def mark_attempt_failed(
    conn: Connection, row_id: int, claim: str, *, error: str, retry_at: datetime | None
) -> bool:
    """The attempt under ``claim`` failed: due again at ``retry_at``, or failed for good."""
    values: dict[str, Any] = {"claim": None, "claimed_until": None, "last_error": error[:1000]}
    if retry_at is None:
        values["status"] = FAILED
    else:
        values["next_attempt_at"] = retry_at
    result = conn.execute(update(t).where(t.c.id == row_id, t.c.claim == claim).values(**values))
    return bool(result.rowcount)


def list_events(
    conn: Connection, *, status: str | None = None, limit: int = 1000
) -> list[OutboxRow]:
    query = select(t).order_by(t.c.id).limit(limit)
    if status is not None:
        query = query.where(t.c.status == status)
    return [_row(r) for r in conn.execute(query).mappings()]


def requeue(
    conn: Connection,
    *,
    row_id: int | None,
    event_id: str | None,
    now: datetime,
    give_up_at: datetime,
) -> int:
    """Make rows due now with a new retry horizon (``chunkup webhooks retry``); how many."""
    which = t.c.id == row_id if row_id is not None else t.c.event_id == event_id
    # a row a node is delivering right now keeps its claim: one attempt in flight
    free = or_(t.c.claimed_until.is_(None), t.c.claimed_until < now)
    result = conn.execute(
        update(t)
        .where(which, (t.c.status == FAILED) | ((t.c.status == PENDING) & free))
        .values(
            status=PENDING,
            next_attempt_at=now,
            give_up_at=give_up_at,
            claim=None,
            claimed_until=None,
        )
    )
    return int(result.rowcount)


def forget_delivered(conn: Connection, *, before: datetime) -> int:
    """Remove delivered rows older than ``before``: nothing needs them any more."""
    result = conn.execute(delete(t).where(t.c.status == DELIVERED, t.c.delivered_at < before))
    return int(result.rowcount)
