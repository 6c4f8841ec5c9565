"""The media a user has: fetch, list, delete (with their stored files)."""

from __future__ import annotations

from chunkup.db import Connection, Database
from chunkup.db import queries as q
from chunkup.errors import MediaNotFound, NotOwner
from chunkup.models import Media
from chunkup.storage import Storage
from chunkup.uploads import keys
from chunkup.webhooks.events import MediaEvents, NoEvents

MAX_ID = 2**31


class MediaLibrary:
    def __init__(self, db: Database, storage: Storage, events: MediaEvents | None = None) -> None:
        self.events = events or NoEvents()  # media.deleted, in the deleting transaction
        self.db = db
        self.storage = storage

    async def get(self, media_id: int) -> Media:
        if not 0 < media_id < MAX_ID:
            raise MediaNotFound()
        media = await self.db.read(lambda conn: q.get_media(conn, media_id))
        if media is None:
            raise MediaNotFound()
        return media

    async def list(self, user_id: int, *, limit: int, offset: int) -> tuple[int, list[Media]]:
        return await self.db.read(
            lambda conn: q.list_media(conn, user_id, limit=limit, offset=offset)
        )

    async def delete(self, user_id: int, media_id: int) -> None:
        def remove(conn: Connection) -> Media:
            media = q.get_media(conn, media_id) if 0 < media_id < MAX_ID else None
            if media is None:
                raise MediaNotFound()
            if media.user_id != user_id:
                raise NotOwner()
            q.delete_media(conn, media_id)
            self.events.media_deleted(conn, media)
            return media

        media = await self.db.write(remove)
        await self.storage.delete_prefix(keys.media_prefix(media.file_token))

    async def by_file_token(self, file_token: str) -> Media | None:
        return await self.db.read(lambda conn: q.get_media_by_token(conn, file_token))
