"""A chunk recorded on PostgreSQL in one statement (``chunkup_record_chunk``, migration 0005).

The function checks and records a chunk atomically under the upload's row
lock and answers what it decided: ``ok`` (recorded; the upload as saved),
``overlap`` (nothing recorded; the stored chunk starting where this one does,
if any, for the retry check), ``not_found``, or the first check that refused
it (``expired``, ``completed``, ``total``, ``kind``, ``too_many_chunks``,
``too_many_ranges``) with the upload as it was, from which the caller raises
the same error as on SQLite. The usage bounds are the caller's, passed in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chunkup.db.engine import Database
from chunkup.models import Chunk, Kind, Upload, UploadStatus

SQL = "SELECT * FROM chunkup_record_chunk($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """One chunk to record, already stored under ``key``, and the bounds it must keep."""

    upload_id: str
    user_id: int
    now: datetime
    total: int
    kind: Kind
    start: int
    end: int
    key: str
    expires: datetime | None  # the client's requested expiry, parsed, or None
    ttl: timedelta  # an upload's longest life from its creation
    footprint: int  # what the chunk's object counts as taking (uploads/usage.py)
    max_chunks: int
    max_ranges: int


@dataclass(frozen=True, slots=True)
class Recorded:
    outcome: str
    upload: Upload | None  # None when not_found
    existing: Chunk | None  # on overlap: the stored chunk starting at this one's start


def _naive(when: datetime | None) -> datetime | None:
    return None if when is None else when.astimezone(UTC).replace(tzinfo=None)


def _aware(when: datetime | None) -> datetime | None:
    return None if when is None else when.replace(tzinfo=UTC)


async def record_chunk(db: Database, chunk: ChunkRecord) -> Recorded:
    row = await db.fetchrow(
        SQL,
        (
            chunk.upload_id,
            chunk.user_id,
            _naive(chunk.now),
            chunk.total,
            chunk.kind.value,
            chunk.start,
            chunk.end,
            chunk.key,
            _naive(chunk.expires),
            chunk.ttl,
            chunk.footprint,
            chunk.max_chunks,
            chunk.max_ranges,
        ),
    )
    outcome: str = row["outcome"]
    if outcome == "not_found":
        return Recorded(outcome, None, None)
    created, expires = _aware(row["created_at"]), _aware(row["expires_at"])
    assert created is not None and expires is not None
    upload = Upload(
        id=chunk.upload_id,
        user_id=row["user_id"],
        kind=Kind(row["kind"]),
        total=row["total"],
        filename=row["filename"],
        ranges=json.loads(row["ranges"]),
        status=UploadStatus(row["status"]),
        created_at=created,
        expires_at=expires,
        media_id=row["media_id"],
        completed_at=_aware(row["completed_at"]),
        chunk_count=row["chunk_count"],
        stored_bytes=row["stored_bytes"],
    )
    existing = None
    if row["existing_key"] is not None:
        existing = Chunk(chunk.upload_id, chunk.start, row["existing_end"], row["existing_key"])
    return Recorded(outcome, upload, existing)
