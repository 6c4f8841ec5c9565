"""The database handle: transactions as functions, migrations, error translation.

A transaction is a plain function of a connection, run whole by ``write()`` or
``read()``. Why not awaiting each statement: on SQLite through aiosqlite every
statement is several hops to a driver thread, and a trivial transaction cost
1.5-1.9 ms of CPU; run whole in one worker thread it is one hop. On PostgreSQL
the same function runs on the event loop over asyncpg through SQLAlchemy's
``run_sync`` bridge, so no thread is tied up waiting on the network.
``write_after`` runs a blocking step first (a chunk's file append) and hands
its result to the transaction as an argument: on SQLite in the same trip to
the writer thread.

SQLite gets what makes several processes safe on one file: WAL, a busy
timeout, and ``BEGIN IMMEDIATE`` for writes, so writers queue for the lock up
front instead of deadlocking on an upgrade from a read lock. Within a process
writes go through one thread, so they never wait on each other's busy timer.
PostgreSQL writers lock the rows they change (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from chunkup.db.statements import StatementPool
from chunkup.db.writer import BatchedWriter
from chunkup.errors import DatabaseUnavailable, MissingExtra

if TYPE_CHECKING:  # imported when used: it needs greenlet, from the `postgres` extra
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
S = TypeVar("S")
T = TypeVar("T")
_READONLY = "chunkup_readonly"
_WRITER = "chunkup_writer"  # marks the writer's own connection (its .info)
CHECKPOINT_EVERY = 200  # commits between two background WAL checkpoints
WRITE_LOCK_PATIENCE = 30.0  # seconds a write waits for SQLite's lock


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
        if not _execute_when_free(cursor, "PRAGMA journal_mode=WAL"):
            cursor.execute("PRAGMA journal_mode=WAL")  # its error
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # checkpoints run in the background (Database._checkpoint), not in a commit
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        pooled = conn.connection
        if conn.get_execution_options().get(_READONLY, False):
            conn.exec_driver_sql("BEGIN")
        elif not (
            pooled.info.get(_WRITER)
            and _execute_when_free(pooled.dbapi_connection, "BEGIN IMMEDIATE")
        ):
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite's own wait (and error)

    return engine


def _execute_when_free(executor: Any, sql: str) -> bool:
    """Run ``sql`` on a sqlite3 connection or cursor, retried in short steps
    while another connection holds the lock; False if it gave up (another
    error, or ``WRITE_LOCK_PATIENCE`` spent), and the caller runs it the plain
    way to raise that error.

    Two statements need it. ``BEGIN IMMEDIATE`` on the writer connection:
    worker processes share one SQLite file and take turns at its write lock,
    each holding it for a transaction of tens of microseconds, and SQLite's own
    busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ... 100 ms between tries, so a
    few collisions cost a chunk 50-100 ms (the p99 of two workers); here the
    waits are 0.1-2 ms (the writer connection has no busy timeout of its own,
    ``Database._writer_connection``). And the switch to WAL mode: a new file
    needs it alone, and SQLite answers BUSY at once (its busy handler is not
    asked) while another connection writes: of two workers starting on a fresh
    data directory, one migrating, the other failed to start, taking the server
    down with it. (Once in WAL mode, as the file stays, it takes no lock.)
    """
    delay, deadline = 0.0001, time.monotonic() + WRITE_LOCK_PATIENCE
    while True:
        try:
            executor.execute(sql)
            return True
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() > deadline:
                return False
        time.sleep(delay)
        delay = min(delay * 2, 0.002)


def _unavailable(exc: DBAPIError) -> bool:
    return isinstance(exc, OperationalError) or bool(exc.connection_invalidated)


@contextmanager
def _translated() -> Iterator[None]:
    """A lost or unusable database is ``DatabaseUnavailable``; other errors pass."""
    try:
        yield
    except DBAPIError as exc:
        if _unavailable(exc):
            log.warning("database unavailable: %s", exc.orig)
            raise DatabaseUnavailable() from exc
        raise


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self._sync: Engine | None = None
        self._async: AsyncEngine | None = None
        self._statements: StatementPool | None = None
        if self.is_sqlite:
            self._sync = _sqlite_engine(url)
            self._writer = BatchedWriter("chunkup-db-write")
            self._write_conn: Connection | None = None
            self._commits = 0
            self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="chunkup-db-checkpoint")
            self._checkpointing = threading.Lock()
            self._readers = ThreadPoolExecutor(4, thread_name_prefix="chunkup-db-read")
        else:
            try:
                from sqlalchemy.ext.asyncio import create_async_engine

                self._async = create_async_engine(
                    url, pool_size=10, max_overflow=20, pool_pre_ping=True
                )
            except ImportError as exc:  # the driver and greenlet are an optional extra
                missing = exc.name or getattr(exc.__cause__, "name", None)
                if missing not in ("asyncpg", "greenlet"):
                    raise
                raise MissingExtra("a PostgreSQL database", "postgres") from exc
            self._statements = StatementPool(url)
            # a chunk's file append, handed over as SQLite's writer gets its work
            self._blocking = BatchedWriter("chunkup-append")

    @property
    def one_statement_chunks(self) -> bool:
        """Whether a chunk is recorded by one server-side statement (``fetchrow``):
        on PostgreSQL; SQLite runs the transaction in its writer thread."""
        return self._statements is not None

    async def fetchrow(self, sql: str, args: Sequence[Any]) -> Any:
        """PostgreSQL: one statement as its own transaction, in one round trip
        (see ``statements.py``); its first row."""
        assert self._statements is not None
        return await self._statements.fetchrow(sql, args)

    async def run_blocking(self, call: Callable[[], T]) -> T:
        """A short blocking call off the event loop (a chunk's append to its file).

        On PostgreSQL in one thread that takes every call queued since it last
        looked and wakes the event loop once per batch (``writer.py``): under
        load that costs a chunk less CPU than a hop of its own to a pool
        thread. On SQLite a pool thread: a chunk's append goes to the writer
        thread with its transaction instead (``write_after``).
        """
        if self._sync is None:
            return await self._blocking.submit(call)
        return await asyncio.to_thread(call)

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction: committed if it returns, else rolled back."""
        return await self._run(work, readonly=False)

    async def write_after(
        self,
        step: Callable[[], S],
        work: Callable[[Connection, S], T],
        *,
        undo: Callable[[S, Exception], Awaitable[object]],
    ) -> T:
        """Run the blocking ``step`` (a chunk's file append), then ``work(conn,
        step's result)`` in a write transaction.

        On SQLite both run in one hand-off to the writer thread, so a chunk
        costs one trip between threads, not two (see ``writer.py``); elsewhere
        ``step`` runs as ``run_blocking`` does, then the transaction on the loop.
        If ``step`` raises, nothing more runs. If the transaction raises (rolled
        back), ``undo(step's result, error)`` is awaited on the event loop
        before the error goes on: the caller's chance to take back what ``step``
        did, which only it knows how to do. The result travels back as a value
        with the future, never through an object the other thread fills.
        """
        if self._sync is None:
            done = await self.run_blocking(step)
            try:
                return await self._run(lambda conn: work(conn, done), readonly=False)
            except Exception as exc:
                await undo(done, exc)
                raise
        done, result, error = await self._writer.submit(partial(self._step_then_write, step, work))
        if error is not None:
            try:
                with _translated():
                    raise error  # as ``write`` would have raised it
            except Exception as exc:
                await undo(done, exc)
                raise
        return cast(T, result)

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a read-only transaction (no write lock on SQLite)."""
        return await self._run(work, readonly=True)

    async def _run(self, work: Callable[[Connection], T], *, readonly: bool) -> T:
        with _translated():
            if self._sync is not None:
                if readonly:
                    loop = asyncio.get_running_loop()
                    return await loop.run_in_executor(self._readers, self._read_sync, work)
                return await self._writer.submit(partial(self._write_sync, work))
            assert self._async is not None
            async with self._async.begin() as conn:
                return await conn.run_sync(work)

    def _read_sync(self, work: Callable[[Connection], T]) -> T:
        assert self._sync is not None
        with self._sync.execution_options(**{_READONLY: True}).begin() as conn:
            return work(conn)

    def _write_sync(self, work: Callable[[Connection], T]) -> T:
        """In the one writer thread: a connection kept open (no pool round per write)."""
        if self._write_conn is None or self._write_conn.invalidated:
            if self._write_conn is not None:
                self._write_conn.close()
            assert self._sync is not None
            self._write_conn = self._writer_connection()
        with self._write_conn.begin():
            result = work(self._write_conn)
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            self._checkpointer.submit(self._checkpoint)
        return result

    def _step_then_write(
        self, step: Callable[[], S], work: Callable[[Connection, S], T]
    ) -> tuple[S, T | None, Exception | None]:
        """``write_after`` in the writer thread: the step's result goes back
        beside the transaction's result or error, for ``undo`` to have it."""
        done = step()
        try:
            return done, self._write_sync(lambda conn: work(conn, done)), None
        except Exception as exc:  # raised again on the event loop, after ``undo``
            return done, None, exc

    def _writer_connection(self) -> Connection:
        """The writer's own connection: it waits for the write lock in Python
        (``_execute_when_free``), so SQLite's busy handler is off on it."""
        assert self._sync is not None
        conn = self._sync.connect()
        conn.connection.dbapi_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
        conn.connection.info[_WRITER] = True
        return conn

    def _checkpoint(self) -> None:
        """Copy the WAL back into the database file, beside the writers.

        SQLite's own checkpoint runs inside the commit that crosses its
        threshold, fsyncs included: that chunk, and every chunk queued behind
        the one writer, waited tens of milliseconds (the p99 of 50 MiB uploads).
        A PASSIVE checkpoint here never waits for, nor blocks, a writer.
        """
        if not self._checkpointing.acquire(blocking=False):
            return
        try:
            assert self._sync is not None
            raw = self._sync.raw_connection()
            try:
                raw.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                raw.close()
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint failed (the next one retries): %s", exc)
        finally:
            self._checkpointing.release()

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
            self._checkpointer.shutdown(wait=True)
            self._readers.shutdown(wait=True)
            self._sync.dispose()
        if self._statements is not None:
            await self._statements.close()
            self._blocking.shutdown()
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
