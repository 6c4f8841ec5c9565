"""Every statement chunkup runs, as functions of a connection the caller owns.

None of them commits: the caller wraps them in ``Database.begin()`` so that
"record a chunk and advance the upload" is one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chunkup.db.tables import chunks, media, pending_files, uploads
from chunkup.models import Chunk, Kind, Media, MediaType, Upload, UploadStatus


class Duplicate(Exception):
    """An insert hit a unique key another transaction already holds."""


def _upload(row: RowMapping) -> Upload:
    return Upload(
        id=row["id"],
        user_id=row["user_id"],
        kind=Kind(row["kind"]),
        total=row["total"],
        filename=row["filename"],
        ranges=row["ranges"],
        status=UploadStatus(row["status"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        media_id=row["media_id"],
        completed_at=row["completed_at"],
    )


def _media(row: RowMapping) -> Media:
    return Media(
        id=row["id"],
        user_id=row["user_id"],
        upload_id=row["upload_id"],
        type=MediaType(row["type"]),
        title=row["title"],
        filename=row["filename"],
        file_token=row["file_token"],
        file_key=row["file_key"],
        mimetype=row["mimetype"],
        size=row["size"],
        width=row["width"],
        height=row["height"],
        added_at=row["added_at"],
        extra=row["extra"] or {},
    )


# -- uploads -------------------------------------------------------------------


async def insert_upload(conn: AsyncConnection, upload: Upload) -> None:
    await conn.execute(
        insert(uploads).values(
            id=upload.id,
            user_id=upload.user_id,
            kind=upload.kind.value,
            total=upload.total,
            filename=upload.filename,
            ranges=upload.ranges,
            status=upload.status.value,
            created_at=upload.created_at,
            expires_at=upload.expires_at,
        )
    )


async def get_upload(
    conn: AsyncConnection, upload_id: str, *, for_update: bool = False
) -> Upload | None:
    query = select(uploads).where(uploads.c.id == upload_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    return _upload(row) if row else None


async def save_upload_progress(
    conn: AsyncConnection, upload_id: str, *, ranges: list[list[int]], expires_at: datetime
) -> None:
    await conn.execute(
        update(uploads)
        .where(uploads.c.id == upload_id)
        .values(ranges=ranges, expires_at=expires_at)
    )


async def mark_completed(
    conn: AsyncConnection, upload_id: str, *, media_id: int, at: datetime
) -> None:
    await conn.execute(
        update(uploads)
        .where(uploads.c.id == upload_id)
        .values(status=UploadStatus.COMPLETED.value, media_id=media_id, completed_at=at)
    )
    await conn.execute(delete(chunks).where(chunks.c.upload_id == upload_id))


async def mark_expired(conn: AsyncConnection, upload_id: str) -> None:
    await conn.execute(
        update(uploads)
        .where(uploads.c.id == upload_id, uploads.c.status == UploadStatus.UPLOADING.value)
        .values(status=UploadStatus.EXPIRED.value)
    )
    await conn.execute(delete(chunks).where(chunks.c.upload_id == upload_id))


async def delete_upload(conn: AsyncConnection, upload_id: str) -> None:
    await conn.execute(delete(chunks).where(chunks.c.upload_id == upload_id))
    await conn.execute(delete(uploads).where(uploads.c.id == upload_id))


async def uploads_expired_before(
    conn: AsyncConnection, when: datetime, *, limit: int = 500
) -> list[Upload]:
    """Uploads still uploading whose expiry has passed."""
    rows = await conn.execute(
        select(uploads)
        .where(uploads.c.status == UploadStatus.UPLOADING.value, uploads.c.expires_at < when)
        .order_by(uploads.c.expires_at)
        .limit(limit)
    )
    return [_upload(r) for r in rows.mappings()]


async def uploads_to_forget(
    conn: AsyncConnection,
    *,
    expired_before: datetime,
    completed_before: datetime,
    limit: int = 500,
) -> list[Upload]:
    rows = await conn.execute(
        select(uploads)
        .where(
            (
                (uploads.c.status == UploadStatus.EXPIRED.value)
                & (uploads.c.expires_at < expired_before)
            )
            | (
                (uploads.c.status == UploadStatus.COMPLETED.value)
                & (uploads.c.completed_at < completed_before)
            )
        )
        .limit(limit)
    )
    return [_upload(r) for r in rows.mappings()]


async def live_upload_ids(conn: AsyncConnection, ids: Sequence[str]) -> set[str]:
    """Those of ``ids`` that are uploads still taking chunks."""
    if not ids:
        return set()
    rows = await conn.execute(
        select(uploads.c.id).where(
            uploads.c.id.in_(list(ids)), uploads.c.status == UploadStatus.UPLOADING.value
        )
    )
    return set(rows.scalars())


# -- chunks --------------------------------------------------------------------


async def insert_chunk(conn: AsyncConnection, chunk: Chunk) -> None:
    try:
        await conn.execute(
            insert(chunks).values(
                upload_id=chunk.upload_id,
                start_byte=chunk.start,
                end_byte=chunk.end,
                key=chunk.key,
            )
        )
    except IntegrityError as exc:
        raise Duplicate(str(exc.orig)) from exc


async def get_chunk(conn: AsyncConnection, upload_id: str, start: int) -> Chunk | None:
    row = (
        (
            await conn.execute(
                select(chunks).where(chunks.c.upload_id == upload_id, chunks.c.start_byte == start)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return Chunk(upload_id, row["start_byte"], row["end_byte"], row["key"])


async def list_chunks(conn: AsyncConnection, upload_id: str) -> list[Chunk]:
    rows = await conn.execute(
        select(chunks).where(chunks.c.upload_id == upload_id).order_by(chunks.c.start_byte)
    )
    return [Chunk(upload_id, r["start_byte"], r["end_byte"], r["key"]) for r in rows.mappings()]


# -- media ---------------------------------------------------------------------


async def insert_media(conn: AsyncConnection, **values: Any) -> Media:
    try:
        result = await conn.execute(insert(media).values(**values).returning(media))
    except IntegrityError as exc:
        raise Duplicate(str(exc.orig)) from exc
    return _media(result.mappings().one())


async def get_media(conn: AsyncConnection, media_id: int) -> Media | None:
    row = (await conn.execute(select(media).where(media.c.id == media_id))).mappings().first()
    return _media(row) if row else None


async def get_media_by_upload(conn: AsyncConnection, upload_id: str) -> Media | None:
    row = (
        (await conn.execute(select(media).where(media.c.upload_id == upload_id))).mappings().first()
    )
    return _media(row) if row else None


async def list_media(
    conn: AsyncConnection, user_id: int, *, limit: int, offset: int
) -> tuple[int, list[Media]]:
    count = (
        await conn.execute(
            select(func.count()).select_from(media).where(media.c.user_id == user_id)
        )
    ).scalar_one()
    rows = await conn.execute(
        select(media)
        .where(media.c.user_id == user_id)
        .order_by(media.c.added_at.desc(), media.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return count, [_media(r) for r in rows.mappings()]


async def delete_media(conn: AsyncConnection, media_id: int) -> None:
    await conn.execute(delete(media).where(media.c.id == media_id))


async def get_media_by_token(conn: AsyncConnection, file_token: str) -> Media | None:
    row = (
        (await conn.execute(select(media).where(media.c.file_token == file_token)))
        .mappings()
        .first()
    )
    return _media(row) if row else None


# -- files being written by a completion ---------------------------------------


async def add_pending_file(conn: AsyncConnection, token: str, upload_id: str, at: datetime) -> None:
    await conn.execute(
        insert(pending_files).values(token=token, upload_id=upload_id, created_at=at)
    )


async def remove_pending_file(conn: AsyncConnection, token: str) -> None:
    await conn.execute(delete(pending_files).where(pending_files.c.token == token))


async def pending_files_before(conn: AsyncConnection, when: datetime) -> list[str]:
    rows = await conn.execute(
        select(pending_files.c.token).where(pending_files.c.created_at < when).limit(500)
    )
    return list(rows.scalars())
