"""What an operator does with the outbox: look at it, and send failed events again."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from chunkup.db import Database, outbox


async def list_events(db: Database, *, failed_only: bool) -> list[outbox.OutboxRow]:
    status = outbox.FAILED if failed_only else None
    return await db.read(partial(outbox.list_events, status=status))


async def retry(db: Database, ref: str, *, now: datetime, horizon: timedelta) -> int:
    """Make a failed (or waiting) event due now, with a fresh retry horizon.

    ``ref`` is a row id (one receiver) or a ``webhook-id`` (``msg_…``, every
    receiver of that event). Returns how many rows were queued.
    """
    row_id = int(ref) if ref.isdigit() else None
    event_id = None if row_id is not None else ref
    return await db.write(
        partial(outbox.requeue, row_id=row_id, event_id=event_id, now=now, give_up_at=now + horizon)
    )
