"""Media ids are never handed out twice, also on a SQLite database made before 0003."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from chunkup.db import Database
from chunkup.db import queries as q
from chunkup.db.engine import MIGRATIONS
from chunkup.models import Media

ADDED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _upgrade_to(conn: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


def _insert_media_at_0002(conn: Connection, media_id: int) -> None:
    conn.execute(
        text(
            "INSERT INTO media (id, user_id, upload_id, type, filename, file_token, file_key,"
            " mimetype, size, extra, added_at) VALUES (:id, 1, :upload, 'image', 'a.png',"
            " :token, 'media/k/a.png', 'image/png', 10, '{}', '2026-11-25 12:00:00')"
        ),
        {"id": media_id, "upload": f"{media_id:032d}", "token": f"{media_id:032x}"},
    )


def _new_media(conn: Connection, n: int) -> int:
    media = q.insert_media(
        conn,
        user_id=1,
        upload_id=f"new{n:029d}",
        type="image",
        title=None,
        filename="b.png",
        file_token=f"new{n:029x}",
        file_key="media/n/b.png",
        mimetype="image/png",
        size=10,
        width=1,
        height=1,
        extra={},
        added_at=ADDED,
    )
    return media.id


def test_a_database_made_at_0002_never_reuses_the_newest_deleted_id(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path}/chunkup.db")

    async def scenario() -> tuple[list[int], str]:
        await db.write(lambda conn: _upgrade_to(conn, "0002"))
        for media_id in (1, 2, 3):
            await db.write(lambda conn, m=media_id: _insert_media_at_0002(conn, m))
        await db.migrate()
        ids = []
        await db.write(lambda conn: q.delete_media(conn, 3))
        ids.append(await db.write(lambda conn: _new_media(conn, 1)))
        await db.write(lambda conn: q.delete_media(conn, ids[-1]))
        ids.append(await db.write(lambda conn: _new_media(conn, 2)))
        kept = await db.read(
            lambda conn: conn.execute(text("SELECT count(*) FROM media")).scalar_one()
        )
        return ids, f"{kept}"

    try:
        ids, kept = asyncio.run(scenario())
    finally:
        asyncio.run(db.dispose())
    assert ids == [4, 5]  # neither 3 nor 4 comes back
    assert kept == "3"  # the rows made before the migration survive it


def test_the_migration_keeps_the_media_rows_and_their_columns(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path}/chunkup.db")

    async def scenario() -> Media:
        await db.write(lambda conn: _upgrade_to(conn, "0002"))
        await db.write(lambda conn: _insert_media_at_0002(conn, 7))
        await db.migrate()
        return await db.read(lambda conn: q.get_media(conn, 7))

    try:
        media = asyncio.run(scenario())
    finally:
        asyncio.run(db.dispose())
    assert media is not None
    assert (media.file_token, media.size, media.added_at) == (f"{7:032x}", 10, ADDED)
