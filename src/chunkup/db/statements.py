"""PostgreSQL's hot statements on asyncpg connections of their own, in one round trip.

Through SQLAlchemy's asyncpg dialect one chunk's transaction cost eight round
trips before anything was written: the pool's pre-ping (begin, ``;``,
rollback), then begin, the statements, commit. A statement that is a whole
transaction by itself (``chunkup_record_chunk``, migration 0005) needs none of
that: sent on an idle connection outside any transaction it is its own
transaction, and asyncpg prepares it once per connection (its statement cache)
and from then on sends bind + execute + sync in one packet. So these
connections are kept apart from the engine's pool: a handful, opened on first
use, never pinged (a broken one fails its statement, is closed, and the
error is ``DatabaseUnavailable``, a 503 the client retries, as a ping failure
was), never reset (nothing but these statements runs on them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import make_url

from chunkup.errors import DatabaseUnavailable

# Errors that say the connection or the server is gone, not that the statement is wrong.
_GONE: tuple[type[BaseException], ...] = (OSError, asyncio.TimeoutError)


def _driver_errors() -> tuple[type[BaseException], ...]:
    import asyncpg  # type: ignore[import-untyped]

    return (
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,  # what a connection the server ended may answer
        asyncpg.exceptions.CannotConnectNowError,
        asyncpg.exceptions.AdminShutdownError,
        asyncpg.exceptions.TooManyConnectionsError,
    )


class StatementPool:
    """A few asyncpg connections for single-statement transactions."""

    def __init__(self, url: str, size: int = 10) -> None:
        parsed = make_url(url).set(drivername="postgresql")
        self._dsn = parsed.render_as_string(hide_password=False)
        self._size = size
        self._idle: list[Any] = []
        self._slots: asyncio.Semaphore | None = None
        self._gone: tuple[type[BaseException], ...] | None = None
        self._statement_error: type[BaseException] = Exception

    async def fetchrow(self, sql: str, args: Sequence[Any]) -> Any:
        """Run ``sql`` (one statement, its own transaction); its first row or None."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._size)
            self._gone = _GONE + _driver_errors()
            import asyncpg

            self._statement_error = asyncpg.PostgresError
        async with self._slots:
            reused = bool(self._idle)
            try:
                return await self._fetchrow(sql, args)
            except DatabaseUnavailable:
                if not reused:
                    raise
            # The server restarted or dropped idle connections (the engine's pool
            # pings for this; these do not): those kept are as stale, so they go,
            # and the statement is sent once more on a new connection. The
            # caller must take a repeat as the first try (a chunk does: see
            # ``db/chunk_record.py``), since the first may have committed.
            self._drop_idle()
            return await self._fetchrow(sql, args)

    async def _fetchrow(self, sql: str, args: Sequence[Any]) -> Any:
        assert self._gone is not None
        try:
            conn = self._idle.pop() if self._idle else await self._connect()
            while conn.is_closed():  # ended by the server while idle
                conn = self._idle.pop() if self._idle else await self._connect()
        except self._gone as exc:
            raise DatabaseUnavailable() from exc
        try:
            row = await conn.fetchrow(sql, *args)
        except self._gone as exc:
            conn.terminate()
            raise DatabaseUnavailable() from exc
        except self._statement_error:
            self._idle.append(conn)  # the server refused the statement: the connection is fine
            raise
        except BaseException:
            conn.terminate()  # cancelled mid-protocol, or worse: not reused
            raise
        self._idle.append(conn)
        return row

    def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.terminate()

    async def _connect(self) -> Any:
        import asyncpg

        return await asyncpg.connect(self._dsn)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            try:
                await conn.close(timeout=5)
            except _GONE + _driver_errors():
                conn.terminate()
