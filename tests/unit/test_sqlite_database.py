"""The SQLite database: statements on its own cursor, the one writer, background checkpoints."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chunkup.db import Database
from chunkup.db import queries as q
from chunkup.errors import DatabaseUnavailable
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
        upload.ranges, upload.expires_at = [[0, 199]], later
        q.save_upload_progress(conn, upload)
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


def test_work_after_a_blocking_step_gets_its_result_in_the_same_hand_off(
    db: Database, tmp_path: Path
):
    marker = tmp_path / "written-first"
    upload = _upload()
    threads: list[str] = []

    def step() -> str:
        threads.append(threading.current_thread().name)
        marker.touch()
        return "k1"

    def record(conn, key: str) -> str:
        threads.append(threading.current_thread().name)
        assert marker.exists()  # the blocking step ran before the transaction
        q.insert_upload(conn, upload)
        return key

    async def never(_key: str, _error: Exception) -> None:
        raise AssertionError("nothing to undo")

    assert asyncio.run(db.write_after(step, record, undo=never)) == "k1"
    assert asyncio.run(db.read(lambda conn: q.get_upload(conn, upload.id))) is not None
    assert len(threads) == 2 and threads[0] == threads[1]  # one thread, one hop
    assert threads[0].startswith("chunkup-db-write")


def test_a_failed_write_after_a_step_is_rolled_back_and_undone_before_it_raises(
    db: Database,
):
    upload = _upload()
    undone: list[tuple[str, Exception]] = []

    def record(conn, _key: str) -> None:
        q.insert_upload(conn, upload)
        raise q.Duplicate()

    async def undo(key: str, error: Exception) -> None:
        undone.append((key, error))

    with pytest.raises(q.Duplicate) as raised:
        asyncio.run(db.write_after(lambda: "k1", record, undo=undo))
    assert undone == [("k1", raised.value)]
    assert asyncio.run(db.read(lambda conn: q.get_upload(conn, upload.id))) is None


def test_undo_sees_the_error_write_would_raise(db: Database):
    undone: list[Exception] = []

    def broken(conn, _key: str) -> None:
        conn.exec_driver_sql("SELECT * FROM no_such_table")

    async def undo(_key: str, error: Exception) -> None:
        undone.append(error)

    with pytest.raises(DatabaseUnavailable) as written:
        asyncio.run(db.write(lambda conn: broken(conn, "")))
    with pytest.raises(DatabaseUnavailable) as raised:
        asyncio.run(db.write_after(lambda: "k1", broken, undo=undo))
    assert undone == [raised.value]
    assert type(raised.value.__cause__) is type(written.value.__cause__)


def test_a_failed_step_runs_neither_the_transaction_nor_undo(db: Database):
    ran: list[str] = []

    def step() -> str:
        raise FileNotFoundError("no file yet")

    async def undo(_key: str, _error: Exception) -> None:
        ran.append("undo")

    with pytest.raises(FileNotFoundError):
        asyncio.run(db.write_after(step, lambda _conn, _key: ran.append("work"), undo=undo))
    assert ran == []


def test_the_wal_is_checkpointed_in_the_background_not_in_a_commit(
    db: Database, monkeypatch: pytest.MonkeyPatch
):
    from chunkup.db import engine

    checkpoints: list[str] = []
    checkpoint = db._checkpoint

    def counted() -> None:
        checkpoints.append(threading.current_thread().name)
        checkpoint()

    monkeypatch.setattr(db, "_checkpoint", counted)
    upload = _upload()
    asyncio.run(db.write(lambda conn: q.insert_upload(conn, upload)))

    async def many_writes() -> int:
        for n in range(engine.CHECKPOINT_EVERY):
            await db.write(lambda conn, n=n: q.insert_chunk(conn, Chunk(upload.id, n, n, "k")))
        return await db.write(
            lambda conn: conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        )

    assert asyncio.run(many_writes()) == 0  # SQLite never checkpoints inside a commit
    db._checkpointer.submit(lambda: None).result()  # the one queued has run
    assert checkpoints and all(name.startswith("chunkup-db-checkpoint") for name in checkpoints)


def test_two_writers_on_one_file_take_turns_at_the_lock(tmp_path: Path):
    """As two worker processes do: the second waits (in short steps) for the first's commit."""
    first, second = (Database(f"sqlite:///{tmp_path}/shared.db") for _ in range(2))
    asyncio.run(first.migrate())
    holding = threading.Event()

    def slow(conn) -> None:
        q.insert_upload(conn, _upload("a" * 32))
        holding.set()
        time.sleep(0.3)  # the write lock is held meanwhile

    async def race() -> int | None:
        held = asyncio.ensure_future(first.write(slow))
        await asyncio.to_thread(holding.wait, 5)
        await second.write(lambda conn: q.insert_upload(conn, _upload("b" * 32)))
        await held
        return await second.write(lambda conn: conn.exec_driver_sql("PRAGMA busy_timeout").scalar())

    try:
        assert asyncio.run(race()) == 0  # the writer waits in Python, not in SQLite
        for upload_id in ("a" * 32, "b" * 32):
            assert asyncio.run(second.read(lambda conn, i=upload_id: q.get_upload(conn, i)))
    finally:
        asyncio.run(first.dispose())
        asyncio.run(second.dispose())


def test_a_second_process_waits_for_wal_mode_while_another_holds_the_write_lock(tmp_path: Path):
    # a fresh file, written by someone else (as a first worker migrating): switching
    # it to WAL is refused at once until that lock goes, and must be waited for
    path = tmp_path / "fresh.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE t (a)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    database = Database(f"sqlite:///{path}")
    try:
        began = time.monotonic()
        asyncio.run(database.ping())
        assert time.monotonic() - began >= 0.25  # it waited for the lock, and did not fail
    finally:
        release.join()
        asyncio.run(database.dispose())
        other.close()
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
