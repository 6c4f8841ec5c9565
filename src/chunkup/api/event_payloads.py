"""The Media in a webhook event's payload: the API's own body, rendered without a request.

An event is rendered inside the transaction that publishes the Media, long
before (and far from) any request that could name the server's address, so
file URLs are built on ``CHUNKUP_PUBLIC_URL`` (else the address the server
listens on). Presigned URLs would have expired before a retried event
arrives: with ``file_urls=presigned`` the payload carries the node's URLs,
which serve the same files.
"""

from __future__ import annotations

from collections.abc import Callable

from chunkup import models
from chunkup.api.schemas import media_body
from chunkup.media import stored
from chunkup.settings import Settings


def media_renderer(settings: Settings) -> Callable[[models.Media], dict[str, object]]:
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    public_base = (settings.file_url_base or "").rstrip("/")

    def url(key: str) -> str:
        if settings.file_urls == "public" and public_base:
            return f"{public_base}/{key}"
        return f"{base}/{key}"

    def render(media: models.Media) -> dict[str, object]:
        renditions = {role: stored.stored_rendition(media, role) for role in stored.ROLES}
        thumbnail, preview = renditions[stored.THUMBNAIL], renditions[stored.PREVIEW]
        body = media_body(
            media,
            url(media.file_key),
            thumbnail_url=url(thumbnail.key) if thumbnail else None,
            preview_url=url(preview.key) if preview else None,
            rendition_urls=[url(picture.key) for picture in stored.stored_pictures(media)],
        )
        return body.model_dump(mode="json")

    return render
