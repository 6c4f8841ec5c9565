"""Migration 0006 fills ``tus_uploads.declared`` from the headers stored before it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from chunkup.db import Database
from chunkup.db import queries as q
from chunkup.db.engine import MIGRATIONS
from chunkup.models import Kind, TusRecord, Upload, UploadStatus

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Upload-Metadata as clients sent it: base64 values, a key may come without one
HEADERS = {
    "a" * 32: "filename cGhvdG8ucG5n,type aW1hZ2U=",  # type=image
    "b" * 32: "filetype aW1hZ2UvcG5n,filename cGhvdG8ucG5n",  # filetype=image/png
    "c" * 32: "filename YS5iaW4=,type,filetype",  # keys without values
    "d" * 32: "",
}


def _upgrade_to(conn: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


def _tus_upload_at_0005(conn: Connection, upload_id: str, header: str) -> None:
    q.insert_upload(
        conn,
        Upload(
            id=upload_id,
            user_id=1,
            kind=Kind.IMAGE,
            total=100,
            filename=None,
            ranges=[],
            status=UploadStatus.UPLOADING,
            created_at=NOW,
            expires_at=NOW + timedelta(hours=24),
        ),
    )
    conn.execute(
        text("INSERT INTO tus_uploads (upload_id, metadata) VALUES (:id, :header)"),
        {"id": upload_id, "header": header},
    )


def test_the_migration_records_what_each_stored_header_declared(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path}/chunkup.db")

    async def scenario() -> dict[str, TusRecord | None]:
        await db.write(lambda conn: _upgrade_to(conn, "0005"))
        for upload_id, header in HEADERS.items():
            await db.write(lambda conn, u=upload_id, h=header: _tus_upload_at_0005(conn, u, h))
        await db.migrate()
        return {
            upload_id: await db.read(lambda conn, u=upload_id: q.get_tus_upload(conn, u))
            for upload_id in HEADERS
        }

    try:
        records = asyncio.run(scenario())
    finally:
        asyncio.run(db.dispose())
    assert {upload_id[0]: r.declared for upload_id, r in records.items() if r} == {
        "a": "type",
        "b": "filetype",
        "c": None,
        "d": None,
    }
    assert records["a" * 32] == TusRecord("a" * 32, HEADERS["a" * 32], None, None, "type")
