"""On PostgreSQL a chunk is recorded by one statement (``chunkup_record_chunk``),
and it decides every chunk as the SQLite transaction does.

The same script of chunks (in order, out of order, repeated, overlapping, from
a stranger, with a wrong total or field, past the range and chunk bounds, with
an expiry) runs on SQLite and on PostgreSQL; each answer, state or error body,
must be the same on both.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chunkup.db.statements import StatementPool
from chunkup.errors import ChunkupError, DatabaseUnavailable
from chunkup.models import Kind
from chunkup.services import Services
from chunkup.storage import open_storage
from tests import postgres
from tests.domain.conftest import DB_FILE, Domain
from tests.support import FakeClock, settings_for

OWNER, STRANGER = 1, 2
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 92  # a first chunk must begin like its kind
LIMITS = {"upload_max_ranges": 3, "upload_chunk_factor": 1, "chunk_max_bytes": 4096}


@pytest.fixture
def pg_url(pg_template: postgres.TemplateDatabase) -> Iterator[str]:
    with pg_template.fresh() as url:
        yield url


async def _domain(data_dir: Path, clock: FakeClock, **settings: Any) -> Domain:
    merged = {"migrate_on_start": False, "storage_url": "memory://", **LIMITS, **settings}
    services = await Services.start(
        settings_for(data_dir, **merged), clock=clock, storage=open_storage("memory://")
    )
    return Domain(services, clock, services.tus)


@pytest.fixture
async def pg(tmp_path: Path, pg_url: str) -> AsyncIterator[Domain]:
    (tmp_path / "pg").mkdir()
    domain = await _domain(tmp_path / "pg", FakeClock(), database_url=pg_url)
    try:
        yield domain
    finally:
        await domain.services.close()


@pytest.fixture
async def sqlite_and_pg(
    tmp_path: Path, migrated_db: Path, pg_url: str
) -> AsyncIterator[tuple[Domain, Domain]]:
    clock = FakeClock()
    (tmp_path / "lite").mkdir()
    shutil.copyfile(migrated_db, tmp_path / "lite" / DB_FILE)
    (tmp_path / "pg").mkdir()
    lite = await _domain(tmp_path / "lite", clock)
    pg = await _domain(tmp_path / "pg", clock, database_url=pg_url)
    try:
        yield lite, pg
    finally:
        await lite.services.close()
        await pg.services.close()


async def _answer(domain: Domain, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """What the client learns: the state (ids aside), or the error body."""
    try:
        state = await domain.chunk(*args, **kwargs)
    except ChunkupError as exc:
        return ("error", type(exc).__name__, exc.body())
    upload = state.upload
    return (
        "ok",
        state.offset,
        state.ranges.to_list(),
        upload.chunk_count,
        upload.stored_bytes,
        upload.expires_at,
        upload.status,
    )


async def test_a_chunk_on_postgresql_is_one_statement_and_no_transaction(
    pg: Domain, monkeypatch: pytest.MonkeyPatch
):
    db = pg.services.uploads.db
    first = await pg.chunk(OWNER, PNG, 0, 30000)
    calls: list[str] = []
    real_write, real_fetchrow = db.write, db.fetchrow

    async def write(*args: Any, **kwargs: Any) -> Any:
        calls.append("write")
        return await real_write(*args, **kwargs)

    async def fetchrow(*args: Any, **kwargs: Any) -> Any:
        calls.append("fetchrow")
        return await real_fetchrow(*args, **kwargs)

    monkeypatch.setattr(db, "write", write)
    monkeypatch.setattr(db, "fetchrow", fetchrow)
    state = await pg.chunk(OWNER, b"b" * 100, 100, 30000, upload_id=first.upload.id)
    assert state.offset == 200
    assert calls == ["fetchrow"]


async def test_every_answer_is_the_sqlite_paths_answer(sqlite_and_pg: tuple[Domain, Domain]):
    lite, pg = sqlite_and_pg
    rng = random.Random(17)
    total = 40_000
    data = PNG + rng.randbytes(total - len(PNG))
    ids = []
    for domain in (lite, pg):
        first = await domain.chunk(OWNER, data[:1000], 0, total)
        ids.append(first.upload.id)
    answers: list[tuple[Any, ...]] = []
    for step in range(160):
        start = rng.choice([rng.randrange(0, total, 1000), rng.randrange(0, total)])
        length = min(rng.choice([1, 999, 1000, 2500, 4096]), total - start)
        user = STRANGER if rng.random() < 0.05 else OWNER
        kind = Kind.DOCUMENT if rng.random() < 0.05 else Kind.IMAGE
        this_total = total + 1 if rng.random() < 0.05 else total
        expires = None
        if rng.random() < 0.1:
            expires = lite.clock.now + timedelta(hours=rng.choice([1, 30]))
        pair = []
        for domain, upload_id in zip((lite, pg), ids, strict=True):
            pair.append(
                await _answer(
                    domain,
                    user,
                    data[start : start + length],
                    start,
                    this_total,
                    upload_id=upload_id,
                    kind=kind,
                    expires=expires,
                )
            )
        assert pair[0] == pair[1], f"step {step}: {start}+{length}"
        answers.append(pair[0])
        lite.clock.advance(timedelta(minutes=1))
    outcomes = {a[1] if a[0] == "error" else "ok" for a in answers}
    # the script reached every kind of refusal the function decides
    assert {"ok", "RangeConflict", "TooManyRanges", "TotalMismatch", "FieldMismatch"} <= outcomes
    assert "UploadNotFound" in outcomes


async def test_refusals_for_state_are_the_sqlite_paths(sqlite_and_pg: tuple[Domain, Domain]):
    lite, pg = sqlite_and_pg
    ids = [(await d.chunk(OWNER, PNG, 0, 8192)).upload.id for d in (lite, pg)]
    # factor 1: an 8192-byte upload at 4096-byte chunks may hold (2 + 1) chunks
    for start in (100, 200):
        for domain, upload_id in zip((lite, pg), ids, strict=True):
            await domain.chunk(OWNER, b"b" * 100, start, 8192, upload_id=upload_id)
    pair = [
        await _answer(d, OWNER, b"c" * 100, 300, 8192, upload_id=i)
        for d, i in zip((lite, pg), ids, strict=True)
    ]
    assert pair[0] == pair[1] and pair[0][1] == "TooManyChunks"
    lite.clock.advance(timedelta(days=2))
    pair = [
        await _answer(d, OWNER, b"c" * 100, 300, 8192, upload_id=i)
        for d, i in zip((lite, pg), ids, strict=True)
    ]
    assert pair[0] == pair[1] and pair[0][1] == "UploadExpired"


async def test_a_chunk_whose_answer_was_lost_is_recorded_once(
    pg: Domain, monkeypatch: pytest.MonkeyPatch
):
    """The connection broke after the statement committed: the repeat on a new
    connection finds the chunk recorded under its own key and answers as the first."""
    first = await pg.chunk(OWNER, PNG, 0, 30000)
    await pg.chunk(OWNER, b"b" * 100, 100, 30000, upload_id=first.upload.id)  # a kept connection
    real = StatementPool._fetchrow
    lost = []

    async def answer_lost(self: StatementPool, sql: str, args: Any) -> Any:
        row = await real(self, sql, args)
        if not lost:
            lost.append(row)
            raise DatabaseUnavailable()
        return row

    monkeypatch.setattr(StatementPool, "_fetchrow", answer_lost)
    state = await pg.chunk(OWNER, b"c" * 100, 200, 30000, upload_id=first.upload.id)
    assert lost and state.offset == 300 and state.upload.chunk_count == 3
    assert len(await pg.keys(f"chunks/{first.upload.id}/")) == 3


async def test_connections_the_server_dropped_are_replaced(pg: Domain, pg_url: str):
    first = await pg.chunk(OWNER, PNG, 0, 30000)
    await pg.chunk(OWNER, b"b" * 100, 100, 30000, upload_id=first.upload.id)
    database = pg_url.rsplit("/", 1)[1]
    await postgres._admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        f" WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    state = await pg.chunk(OWNER, b"c" * 100, 200, 30000, upload_id=first.upload.id)
    assert state.offset == 300
