"""Statements run on SQLite's own cursor give what SQLAlchemy would."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chunkup.db import Database
from chunkup.db import queries as q
from chunkup.models import Chunk, Kind, Upload, UploadStatus


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path}/chunkup.db")
    asyncio.run(database.migrate())
    yield database
    asyncio.run(database.dispose())


def _upload(upload_id: str = "u" * 32) -> Upload:
    now = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
    return Upload(
        id=upload_id,
        user_id=7,
        kind=Kind.DOCUMENT,
        total=1000,
        filename="a.pdf",
        ranges=[[0, 99]],
        status=UploadStatus.UPLOADING,
        created_at=now,
        expires_at=now + timedelta(days=1),
    )


def test_an_upload_reads_back_with_aware_datetimes_and_json_ranges(db: Database):
    upload = _upload()
    asyncio.run(db.write(lambda conn: q.insert_upload(conn, upload)))
    stored = asyncio.run(db.read(lambda conn: q.get_upload(conn, upload.id)))
    assert stored is not None
    assert stored.ranges == [[0, 99]] and stored.kind is Kind.DOCUMENT
    assert stored.created_at == upload.created_at and stored.created_at.tzinfo is not None
    assert stored.completed_at is None and stored.media_id is None


def test_progress_and_chunks_are_written_and_counted(db: Database):
    upload = _upload()
    later = upload.expires_at + timedelta(hours=1)

    def record(conn):
        q.insert_upload(conn, upload)
        q.insert_chunk(conn, Chunk(upload.id, 100, 199, "k1"))
        q.save_upload_progress(conn, upload.id, ranges=[[0, 199]], expires_at=later)
        return q.open_uploads_of(conn, 7, upload.created_at), q.get_chunk(conn, upload.id, 100)

    (count, declared), chunk = asyncio.run(db.write(record))
    assert (count, declared) == (1, 1000)
    assert chunk == Chunk(upload.id, 100, 199, "k1")
    stored = asyncio.run(db.read(lambda conn: q.get_upload(conn, upload.id, for_update=True)))
    assert stored is not None and stored.ranges == [[0, 199]] and stored.expires_at == later


def test_a_second_chunk_at_one_offset_is_a_duplicate(db: Database):
    upload = _upload()
    asyncio.run(db.write(lambda conn: q.insert_upload(conn, upload)))
    asyncio.run(db.write(lambda conn: q.insert_chunk(conn, Chunk(upload.id, 0, 99, "a"))))
    with pytest.raises(q.Duplicate):
        asyncio.run(db.write(lambda conn: q.insert_chunk(conn, Chunk(upload.id, 0, 99, "b"))))
    # the failed transaction was rolled back and the kept connection still works
    assert asyncio.run(db.read(lambda conn: q.get_chunk(conn, upload.id, 0))).key == "a"


def test_work_after_a_blocking_first_step_runs_in_the_same_write(db: Database, tmp_path: Path):
    marker = tmp_path / "written-first"
    upload = _upload()

    def record(conn):
        assert marker.exists()  # the blocking step ran before the transaction
        q.insert_upload(conn, upload)

    asyncio.run(db.write(record, first=marker.touch))
    assert asyncio.run(db.read(lambda conn: q.get_upload(conn, upload.id))) is not None
