"""Recording events in the outbox, inside the transaction that makes them happen.

Why inside: an event written after the commit is lost if the process dies in
between, and one written before it may announce a Media that never was. The
Media's row and its event's rows commit together or not at all; delivery
(``delivery.py``) happens later, off the request path.

The payload is rendered once, here, and stored as the exact body every attempt
sends (the Standard Webhooks envelope ``{"type", "timestamp", "data"}``), so a
retry carries the same body and the same ``webhook-id``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from chunkup.db import Connection, outbox
from chunkup.models import Media, Upload
from chunkup.webhooks.signing import new_message_id

MEDIA_CREATED = "media.created"
MEDIA_DELETED = "media.deleted"
UPLOAD_EXPIRED = "upload.expired"

MediaRenderer = Callable[[Media], dict[str, object]]
Clock = Callable[[], datetime]


class MediaEvents(Protocol):
    """What the upload domain tells about, each call inside its own transaction."""

    def media_created(self, conn: Connection, media: Media) -> None: ...

    def media_deleted(self, conn: Connection, media: Media) -> None: ...

    def upload_expired(self, conn: Connection, upload: Upload) -> None: ...


class NoEvents:
    """No webhooks configured: nothing is recorded."""

    def media_created(self, conn: Connection, media: Media) -> None:
        return None

    def media_deleted(self, conn: Connection, media: Media) -> None:
        return None

    def upload_expired(self, conn: Connection, upload: Upload) -> None:
        return None


def media_reference(media: Media) -> dict[str, object]:
    """The Media when no HTTP layer renders it (a command-line process): its id."""
    return {"id": media.id}


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Outbox:
    """Writes one row per event and receiver URL, for the event types asked for."""

    def __init__(
        self,
        urls: Sequence[str],
        event_types: Sequence[str],
        *,
        retry_horizon: timedelta,
        clock: Clock,
        render_media: MediaRenderer = media_reference,
    ) -> None:
        self.urls = list(urls)
        self.event_types = frozenset(event_types)
        self.retry_horizon = retry_horizon
        self.clock = clock
        self.render_media = render_media

    def media_created(self, conn: Connection, media: Media) -> None:
        self._record(conn, MEDIA_CREATED, lambda: self._media_data(media))

    def media_deleted(self, conn: Connection, media: Media) -> None:
        self._record(conn, MEDIA_DELETED, lambda: self._media_data(media))

    def upload_expired(self, conn: Connection, upload: Upload) -> None:
        def data() -> dict[str, object]:
            received = sum(end - start + 1 for start, end in upload.ranges)
            return {
                "upload_id": upload.id,
                "user_id": upload.user_id,
                "kind": upload.kind.value,
                "size": upload.total,
                "received": received,
                "filename": upload.filename,
                "created_at": _iso(upload.created_at),
                "expires_at": _iso(upload.expires_at),
            }

        self._record(conn, UPLOAD_EXPIRED, data)

    def _media_data(self, media: Media) -> dict[str, object]:
        return {"media": self.render_media(media), "user_id": media.user_id}

    def _record(
        self, conn: Connection, event_type: str, data: Callable[[], dict[str, object]]
    ) -> None:
        if event_type not in self.event_types or not self.urls:
            return
        now = self.clock()
        body = json.dumps(
            {"type": event_type, "timestamp": _iso(now), "data": data()},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        event_id = new_message_id()
        give_up_at = now + self.retry_horizon
        outbox.add_events(
            conn,
            [
                outbox.NewEvent(event_id, event_type, url, body, now, give_up_at)
                for url in self.urls
            ],
        )
