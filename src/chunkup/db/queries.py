"""Every statement chunkup runs, as functions of a connection the caller owns.

None of them commits: the caller hands a function of a connection to
``Database.write()`` (or ``read()``), so that "record a chunk and advance the
upload" is one transaction. They are plain functions on purpose: on SQLite the
whole transaction runs in one worker thread, on PostgreSQL on the event loop
through SQLAlchemy's greenlet bridge (``run_sync``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from chunkup.db.prepared import Prepared
from chunkup.db.tables import (
    UTCDateTime,
    chunks,
    media,
    pending_files,
    tus_parts,
    tus_uploads,
    uploads,
)
from chunkup.models import Chunk, Kind, Media, MediaType, TusRecord, Upload, UploadStatus


class Duplicate(Exception):
    """An insert hit a unique key another transaction already holds."""


# Built once: composing a statement costs more than running it on SQLite; the
# per-chunk ones are also compiled once (see prepared.py).
_UPLOAD = select(uploads).where(uploads.c.id == bindparam("id"))
_GET_UPLOAD = Prepared(_UPLOAD)
_GET_UPLOAD_FOR_UPDATE = Prepared(_UPLOAD.with_for_update())
_UPLOAD_FIELDS = (
    "id user_id kind total filename ranges status created_at expires_at chunk_count stored_bytes"
).split()
_INSERT_UPLOAD = Prepared(
    insert(uploads).values({name: bindparam(name) for name in _UPLOAD_FIELDS})
)
# What an upload takes: its declared size, plus what its chunks take in storage
# beyond what that size needs in whole 4 KiB blocks (``uploads/usage.py``), the
# cost of chunks smaller than need be. Plain SQL (integer division on both
# dialects) with no literal parameters: ``Prepared`` binds only named ones.
_NEEDED = "(uploads.total + 4095) / 4096 * 4096"
_TAKES = literal_column(
    f"uploads.total + CASE WHEN uploads.stored_bytes > {_NEEDED}"
    f" THEN uploads.stored_bytes - {_NEEDED} ELSE 0 END",
    BigInteger,
)
_OPEN_UPLOADS = Prepared(
    select(
        func.count().label("count"),
        func.sum(_TAKES).label("bytes"),
    ).where(
        uploads.c.user_id == bindparam("user_id"),
        uploads.c.status == bindparam("status"),
        uploads.c.expires_at > bindparam("now", type_=UTCDateTime),
    )
)
_SAVE_PROGRESS = Prepared(
    update(uploads)
    .where(uploads.c.id == bindparam("b_id"))
    .values(
        ranges=bindparam("b_ranges"),
        expires_at=bindparam("b_expires_at"),
        chunk_count=bindparam("b_chunk_count"),
        stored_bytes=bindparam("b_stored_bytes"),
    )
)
_INSERT_CHUNK = Prepared(insert(chunks).values({c.name: bindparam(c.name) for c in chunks.columns}))
_CHUNK = Prepared(
    select(chunks).where(
        chunks.c.upload_id == bindparam("upload_id"), chunks.c.start_byte == bindparam("start")
    )
)


def _upload(row: Mapping[Any, Any]) -> Upload:  # a RowMapping's keys: names or columns
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
        chunk_count=row["chunk_count"],
        stored_bytes=row["stored_bytes"],
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


def insert_upload(conn: Connection, upload: Upload) -> None:
    _INSERT_UPLOAD.run(
        conn,
        dict(
            id=upload.id,
            user_id=upload.user_id,
            kind=upload.kind.value,
            total=upload.total,
            filename=upload.filename,
            ranges=upload.ranges,
            status=upload.status.value,
            created_at=upload.created_at,
            expires_at=upload.expires_at,
            chunk_count=upload.chunk_count,
            stored_bytes=upload.stored_bytes,
        ),
    )


def open_uploads_of(conn: Connection, user_id: int, now: datetime) -> tuple[int, int]:
    """How many unfinished, unexpired uploads ``user_id`` has, and the bytes they
    take: each its declared size, plus what its chunks take in storage beyond
    what that size needs (tiny chunks, each padded to a block)."""
    row = _OPEN_UPLOADS.first(
        conn, {"user_id": user_id, "status": UploadStatus.UPLOADING.value, "now": now}
    )
    assert row is not None  # an aggregate has one row
    return int(row["count"]), int(row["bytes"] or 0)


def get_upload(conn: Connection, upload_id: str, *, for_update: bool = False) -> Upload | None:
    query = _GET_UPLOAD_FOR_UPDATE if for_update else _GET_UPLOAD
    row = query.first(conn, {"id": upload_id})
    return _upload(row) if row else None


def save_upload_progress(conn: Connection, upload: Upload) -> None:
    """The upload's ranges, expiry and usage as they are now (one short update)."""
    _SAVE_PROGRESS.run(
        conn,
        {
            "b_id": upload.id,
            "b_ranges": upload.ranges,
            "b_expires_at": upload.expires_at,
            "b_chunk_count": upload.chunk_count,
            "b_stored_bytes": upload.stored_bytes,
        },
    )


def mark_completed(conn: Connection, upload_id: str, *, media_id: int, at: datetime) -> None:
    conn.execute(
        update(uploads)
        .where(uploads.c.id == upload_id)
        .values(status=UploadStatus.COMPLETED.value, media_id=media_id, completed_at=at)
    )
    conn.execute(delete(chunks).where(chunks.c.upload_id == upload_id))


def mark_expired(conn: Connection, upload_id: str) -> None:
    conn.execute(
        update(uploads)
        .where(uploads.c.id == upload_id, uploads.c.status == UploadStatus.UPLOADING.value)
        .values(status=UploadStatus.EXPIRED.value)
    )
    conn.execute(delete(chunks).where(chunks.c.upload_id == upload_id))


def delete_upload(conn: Connection, upload_id: str) -> None:
    conn.execute(delete(chunks).where(chunks.c.upload_id == upload_id))
    conn.execute(delete(uploads).where(uploads.c.id == upload_id))


def uploads_expired_before(conn: Connection, when: datetime, *, limit: int = 500) -> list[Upload]:
    """Uploads still uploading whose expiry has passed."""
    rows = conn.execute(
        select(uploads)
        .where(uploads.c.status == UploadStatus.UPLOADING.value, uploads.c.expires_at < when)
        .order_by(uploads.c.expires_at)
        .limit(limit)
    )
    return [_upload(r) for r in rows.mappings()]


def uploads_to_forget(
    conn: Connection,
    *,
    expired_before: datetime,
    completed_before: datetime,
    limit: int = 500,
) -> list[Upload]:
    rows = conn.execute(
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


def live_upload_ids(conn: Connection, ids: Sequence[str]) -> set[str]:
    """Those of ``ids`` that are uploads still taking chunks."""
    if not ids:
        return set()
    rows = conn.execute(
        select(uploads.c.id).where(
            uploads.c.id.in_(list(ids)), uploads.c.status == UploadStatus.UPLOADING.value
        )
    )
    return set(rows.scalars())


# -- chunks --------------------------------------------------------------------


def insert_chunk(conn: Connection, chunk: Chunk) -> None:
    insert_chunks(conn, [chunk])


def get_chunk(conn: Connection, upload_id: str, start: int) -> Chunk | None:
    row = _CHUNK.first(conn, {"upload_id": upload_id, "start": start})
    if row is None:
        return None
    return Chunk(upload_id, row["start_byte"], row["end_byte"], row["key"])


def list_chunks(conn: Connection, upload_id: str) -> list[Chunk]:
    rows = conn.execute(
        select(chunks).where(chunks.c.upload_id == upload_id).order_by(chunks.c.start_byte)
    )
    return [Chunk(upload_id, r["start_byte"], r["end_byte"], r["key"]) for r in rows.mappings()]


# -- media ---------------------------------------------------------------------


def insert_media(conn: Connection, **values: Any) -> Media:
    try:
        result = conn.execute(insert(media).values(**values).returning(media))
    except IntegrityError as exc:
        raise Duplicate(str(exc.orig)) from exc
    return _media(result.mappings().one())


def get_media(conn: Connection, media_id: int) -> Media | None:
    row = (conn.execute(select(media).where(media.c.id == media_id))).mappings().first()
    return _media(row) if row else None


def get_media_by_upload(conn: Connection, upload_id: str) -> Media | None:
    row = (conn.execute(select(media).where(media.c.upload_id == upload_id))).mappings().first()
    return _media(row) if row else None


def list_media(
    conn: Connection, user_id: int, *, limit: int, offset: int
) -> tuple[int, list[Media]]:
    count = (
        conn.execute(select(func.count()).select_from(media).where(media.c.user_id == user_id))
    ).scalar_one()
    rows = conn.execute(
        select(media)
        .where(media.c.user_id == user_id)
        .order_by(media.c.added_at.desc(), media.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return count, [_media(r) for r in rows.mappings()]


def delete_media(conn: Connection, media_id: int) -> None:
    conn.execute(delete(media).where(media.c.id == media_id))


def get_media_by_token(conn: Connection, file_token: str) -> Media | None:
    row = (conn.execute(select(media).where(media.c.file_token == file_token))).mappings().first()
    return _media(row) if row else None


# -- files being written by a completion ---------------------------------------


def add_pending_file(conn: Connection, token: str, upload_id: str, at: datetime) -> None:
    conn.execute(insert(pending_files).values(token=token, upload_id=upload_id, created_at=at))


def remove_pending_file(conn: Connection, token: str) -> None:
    conn.execute(delete(pending_files).where(pending_files.c.token == token))


def pending_files_before(conn: Connection, when: datetime) -> list[str]:
    rows = conn.execute(
        select(pending_files.c.token).where(pending_files.c.created_at < when).limit(500)
    )
    return list(rows.scalars())


# -- tus -----------------------------------------------------------------------


def insert_tus_upload(conn: Connection, record: TusRecord) -> None:
    conn.execute(
        insert(tus_uploads).values(
            upload_id=record.upload_id,
            metadata=record.metadata,
            media_type=record.media_type,
            concat=record.concat,
            declared=record.declared,
        )
    )


def get_tus_upload(conn: Connection, upload_id: str) -> TusRecord | None:
    row = (
        conn.execute(select(tus_uploads).where(tus_uploads.c.upload_id == upload_id))
        .mappings()
        .first()
    )
    if row is None:
        return None
    return TusRecord(
        row["upload_id"], row["metadata"], row["media_type"], row["concat"], row["declared"]
    )


def insert_tus_parts(conn: Connection, final_id: str, part_ids: Sequence[str]) -> None:
    conn.execute(
        insert(tus_parts),
        [
            {"final_id": final_id, "position": i, "part_id": part_id}
            for i, part_id in enumerate(part_ids)
        ],
    )


def tus_parts_of(conn: Connection, final_id: str) -> list[str]:
    rows = conn.execute(
        select(tus_parts.c.part_id)
        .where(tus_parts.c.final_id == final_id)
        .order_by(tus_parts.c.position)
    )
    return list(rows.scalars())


def parts_of_live_finals(conn: Connection, part_ids: Sequence[str]) -> set[str]:
    """Those of ``part_ids`` whose stored objects a final upload still taking bytes uses."""
    if not part_ids:
        return set()
    rows = conn.execute(
        select(tus_parts.c.part_id)
        .join(uploads, uploads.c.id == tus_parts.c.final_id)
        .where(
            tus_parts.c.part_id.in_(list(part_ids)),
            uploads.c.status == UploadStatus.UPLOADING.value,
        )
    )
    return set(rows.scalars())


def insert_chunks(conn: Connection, records: Sequence[Chunk]) -> None:
    """Chunk records: one per chunk, several for a tus PATCH's pieces or a final upload."""
    rows = [
        {"upload_id": c.upload_id, "start_byte": c.start, "end_byte": c.end, "key": c.key}
        for c in records
    ]
    try:
        if len(rows) == 1:  # the per-chunk path
            _INSERT_CHUNK.run(conn, rows[0])
        elif rows:
            conn.execute(_INSERT_CHUNK.statement, rows)
    except IntegrityError as exc:
        raise Duplicate(str(exc.orig)) from exc


def mark_consumed(conn: Connection, upload_id: str, *, at: datetime) -> None:
    """A tus partial upload joined into a final: it takes no more bytes or completes.

    Its chunk records go (the final has its own, naming the same objects); its
    objects stay until no live final names them (garbage collection).
    """
    conn.execute(
        update(uploads)
        .where(uploads.c.id == upload_id)
        .values(status=UploadStatus.COMPLETED.value, completed_at=at)
    )
    conn.execute(delete(chunks).where(chunks.c.upload_id == upload_id))


def mark_joinable(conn: Connection, upload_id: str) -> None:
    """Undo ``mark_consumed`` (its final upload could not complete): the partial
    upload may be joined again; the caller gives its chunk records back."""
    conn.execute(
        update(uploads)
        .where(uploads.c.id == upload_id)
        .values(status=UploadStatus.UPLOADING.value, completed_at=None)
    )
