"""The database handle: transactions as functions, migrations, error translation.

A transaction is a plain function of a connection, run whole by ``write()`` or
``read()``. Why not awaiting each statement: on SQLite through aiosqlite every
statement is several hops to a driver thread, and a trivial transaction cost
1.5-1.9 ms of CPU; run whole in one worker thread it is one hop. On PostgreSQL
the same function runs on the event loop over asyncpg through SQLAlchemy's
``run_sync`` bridge, so no thread is tied up waiting on the network.

SQLite gets what makes several processes safe on one file: WAL, a busy
timeout, and ``BEGIN IMMEDIATE`` for writes, so writers queue for the lock up
front instead of deadlocking on an upgrade from a read lock. Within a process
writes go through one thread, so they never wait on each other's busy timer.
PostgreSQL writers lock the rows they change (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from chunkup.db.writer import BatchedWriter
from chunkup.errors import DatabaseUnavailable

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")
_READONLY = "chunkup_readonly"


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url).set(drivername="sqlite")
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # take transaction control away from the driver, see "begin" below
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get(_READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def _unavailable(exc: DBAPIError) -> bool:
    return isinstance(exc, OperationalError) or bool(exc.connection_invalidated)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self._sync: Engine | None = None
        self._async: AsyncEngine | None = None
        if self.is_sqlite:
            self._sync = _sqlite_engine(url)
            self._writer = BatchedWriter("chunkup-db-write")
            self._write_conn: Connection | None = None
            self._readers = ThreadPoolExecutor(4, thread_name_prefix="chunkup-db-read")
        else:
            self._async = create_async_engine(
                url, pool_size=10, max_overflow=20, pool_pre_ping=True
            )

    async def write(
        self, work: Callable[[Connection], T], *, first: Callable[[], object] | None = None
    ) -> T:
        """Run ``work`` in a write transaction: committed if it returns, else rolled back.

        ``first``, a blocking call (a chunk's file write), runs before the
        transaction begins; on SQLite in the same worker thread, so a chunk
        costs one hand-off between threads, not two (see ``writer.py``).
        """
        if first is not None and self._sync is None:
            await asyncio.to_thread(first)
            first = None
        return await self._run(work, readonly=False, first=first)

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a read-only transaction (no write lock on SQLite)."""
        return await self._run(work, readonly=True)

    async def _run(
        self,
        work: Callable[[Connection], T],
        *,
        readonly: bool,
        first: Callable[[], object] | None = None,
    ) -> T:
        try:
            if self._sync is not None:
                loop = asyncio.get_running_loop()
                if readonly:
                    return await loop.run_in_executor(self._readers, self._read_sync, work)
                return await self._writer.submit(partial(self._write_sync, work, first))
            assert self._async is not None
            async with self._async.begin() as conn:
                return await conn.run_sync(work)
        except DBAPIError as exc:
            if _unavailable(exc):
                log.warning("database unavailable: %s", exc.orig)
                raise DatabaseUnavailable() from exc
            raise

    def _read_sync(self, work: Callable[[Connection], T]) -> T:
        assert self._sync is not None
        with self._sync.execution_options(**{_READONLY: True}).begin() as conn:
            return work(conn)

    def _write_sync(self, work: Callable[[Connection], T], first: Callable[[], object] | None) -> T:
        """In the one writer thread: a connection kept open (no pool round per write)."""
        if first is not None:
            first()
        if self._write_conn is None or self._write_conn.invalidated:
            if self._write_conn is not None:
                self._write_conn.close()
            assert self._sync is not None
            self._write_conn = self._sync.connect()
        with self._write_conn.begin():
            return work(self._write_conn)

    def _close_writer(self) -> None:
        if self._write_conn is not None:
            self._write_conn.close()
            self._write_conn = None

    async def migrate(self) -> None:
        """Bring the schema to the newest migration (safe to run from many processes)."""
        await self.write(_upgrade)

    async def ping(self) -> None:
        await self.read(lambda conn: conn.exec_driver_sql("SELECT 1").scalar())

    async def dispose(self) -> None:
        if self._sync is not None:
            if self._write_conn is not None:
                await self._writer.submit(self._close_writer)
            self._writer.shutdown()
            self._readers.shutdown(wait=True)
            self._sync.dispose()
        if self._async is not None:
            await self._async.dispose()


def _upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    if conn.dialect.name == "postgresql":
        # one migrator at a time across nodes; released at commit
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7236512)")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
