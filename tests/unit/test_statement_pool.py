"""PostgreSQL's one-statement connections (``db/statements.py``) against the real server
on 127.0.0.1:5432, with connections dropped for real (``pg_terminate_backend``).

These connections are never pinged, so a connection the server ended while it sat
idle is only found out by the next statement sent on it: that statement must still
be answered (on a new connection), while a server that cannot be reached at all, a
statement the server refuses and a statement cancelled halfway each end as they say.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest

from chunkup.db.statements import StatementPool
from chunkup.errors import DatabaseUnavailable
from tests import postgres
from tests.support import free_port

WHO = "SELECT pg_backend_pid() AS pid, $1::int + 1 AS answer"
DEADLINE = 10.0  # seconds the server has to end a backend it was told to end


@pytest.fixture
def database_url(pg_template: postgres.TemplateDatabase) -> Iterator[str]:
    with pg_template.fresh() as url:
        yield url


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[StatementPool]:
    statements = StatementPool(database_url, size=2)
    yield statements
    await statements.close()


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(
        host=postgres.HOST, port=postgres.PORT, user=postgres.USER, database="postgres"
    )


async def backend_state(pid: int) -> str | None:
    """What the server says backend ``pid`` is doing; None once it has ended."""
    conn = await _admin()
    try:
        state: str | None = await conn.fetchval(
            "SELECT coalesce(state, '?') FROM pg_stat_activity WHERE pid = $1", pid
        )
        return state
    finally:
        await conn.close()


def terminate(pid: int) -> None:
    """End backend ``pid`` from another connection and return once it is gone.

    Blocking, on a thread of its own: called from a test's coroutine it holds that
    test's event loop, so a pool connection to ``pid`` cannot notice the drop before
    it sends its next statement (the case the pool's retry is for: a server restart
    or a dropped idle connection found out only by the statement that uses it).
    """

    async def run() -> None:
        conn = await _admin()
        try:
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
            deadline = time.monotonic() + DEADLINE
            query = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"
            while await conn.fetchval(query, pid):  # an external process: polled
                assert time.monotonic() < deadline, f"backend {pid} did not end"
                await asyncio.sleep(0.01)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, run()).result()


async def test_a_connection_dropped_while_idle_is_replaced_and_the_statement_answered(
    pool: StatementPool,
) -> None:
    first = await pool.fetchrow(WHO, [1])
    terminate(first["pid"])

    again = await pool.fetchrow(WHO, [41])

    assert again["answer"] == 42
    assert again["pid"] != first["pid"]
    assert await backend_state(again["pid"]) == "idle"  # kept for the next statement
    assert (await pool.fetchrow(WHO, [2]))["pid"] == again["pid"]


async def test_a_server_that_cannot_be_reached_is_database_unavailable_at_once() -> None:
    pool = StatementPool(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/chunkup")
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            await pool.fetchrow(WHO, [1])
    finally:
        await pool.close()

    assert raised.value.status == 503  # the client retries it
    assert isinstance(raised.value.__cause__, OSError)


async def test_a_statement_the_server_refuses_is_raised_and_its_connection_kept(
    pool: StatementPool,
) -> None:
    first = await pool.fetchrow(WHO, [1])

    with pytest.raises(asyncpg.DivisionByZeroError):
        await pool.fetchrow("SELECT $1::int / 0", [1])

    assert (await pool.fetchrow(WHO, [1]))["pid"] == first["pid"]


async def test_a_statement_cancelled_halfway_does_not_leave_its_connection_to_the_next(
    pool: StatementPool,
) -> None:
    pid = (await pool.fetchrow(WHO, [1]))["pid"]
    slow = asyncio.create_task(pool.fetchrow("SELECT pg_sleep(60)", []))
    deadline = time.monotonic() + DEADLINE
    while await backend_state(pid) != "active":  # the server is running it: an event
        assert time.monotonic() < deadline, "the slow statement never started"

    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow

    after = await pool.fetchrow(WHO, [1])
    assert after["pid"] != pid  # a connection mid-protocol is never reused
    terminate(pid)  # the server would otherwise sleep on for the rest of the minute


async def test_close_ends_the_idle_connections(database_url: str) -> None:
    pool = StatementPool(database_url)
    first, second = await asyncio.gather(pool.fetchrow(WHO, [1]), pool.fetchrow(WHO, [2]))
    assert first["pid"] != second["pid"]

    await pool.close()

    assert [await backend_state(first["pid"]), await backend_state(second["pid"])] == [None, None]
