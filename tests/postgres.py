"""PostgreSQL for the tests: the machine's server on 127.0.0.1:5432, a database per test.

The schema is migrated once into a template database; each test gets a copy
(``CREATE DATABASE ... TEMPLATE``), dropped afterwards. Where no server answers,
one is started from the Debian packages if they are installed; otherwise the
PostgreSQL variants are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

HOST = os.environ.get("CHUNKUP_TEST_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("CHUNKUP_TEST_PG_PORT", "5432"))
USER = os.environ.get("CHUNKUP_TEST_PG_USER", "postgres")


def url(database: str) -> str:
    return f"postgresql+asyncpg://{USER}@{HOST}:{PORT}/{database}"


async def _admin(*statements: str) -> None:
    conn = await asyncpg.connect(host=HOST, port=PORT, user=USER, database="postgres", timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def admin(*statements: str) -> None:
    asyncio.run(_admin(*statements))


def _start_cluster() -> str | None:
    """Start the Debian cluster if there is one; the reason it cannot be, else None."""
    if shutil.which("pg_ctlcluster") is None or not os.path.isdir("/etc/postgresql"):
        return "no PostgreSQL answers on 127.0.0.1:5432 and no Debian cluster is installed"
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    done = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        return f"PostgreSQL could not be started: {done.stderr.strip()}"
    return None


def unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    try:
        admin("SELECT 1")
        return None
    except (OSError, asyncpg.PostgresError) as first:
        reason = _start_cluster()
        if reason:
            return f"{reason} ({first})"
    try:
        admin("SELECT 1")
        return None
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL does not answer on {HOST}:{PORT}: {exc}"


class TemplateDatabase:
    """A migrated template; ``fresh()`` hands out copies."""

    def __init__(self) -> None:
        self.name = f"chunkup_tpl_{os.getpid()}_{secrets.token_hex(3)}"

    def create(self) -> None:
        from chunkup.db import Database

        admin(f'CREATE DATABASE "{self.name}"')

        async def migrate() -> None:
            db = Database(url(self.name))
            try:
                await db.migrate()
            finally:
                await db.dispose()

        asyncio.run(migrate())

    def drop(self) -> None:
        admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    @contextmanager
    def fresh(self) -> Iterator[str]:
        name = f"chunkup_t_{secrets.token_hex(6)}"
        admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        try:
            yield url(name)
        finally:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
