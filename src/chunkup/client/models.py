"""The contract's JSON shapes as the client sees them (``API.md``: ChunkMedia, Media).

These mirror ``chunkup.api.schemas`` field for field without importing the
server; ``tests/client/test_models.py`` keeps the two in step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

MediaType = Literal["image", "eimage", "doc"]


class ChunkMedia(BaseModel):
    """The answer to every accepted chunk."""

    upload_id: str
    offset: str  # bytes received contiguously from byte 0, a decimal string as the seed says
    expires: str


class UploadStatus(ChunkMedia):
    """``GET /api/v2/media/upload/{id}/``: what the server holds of an upload."""

    total: int
    kind: Literal["image", "document"]
    status: Literal["uploading", "completed", "expired"]
    ranges: list[list[int]]  # stored byte ranges, [start, end] inclusive, merged
    media_id: int | None = None


class Thumbnail(BaseModel):
    url: str
    width: int
    height: int
    color: str


class ImageRendition(BaseModel):
    """A responsive picture: a WebP at a standard width, or a HEIC's full-size JPEG."""

    url: str
    width: int
    height: int
    mimetype: str


class Media(BaseModel):
    id: int
    added_at: datetime
    type: MediaType
    title: str | None
    description: str | None = None
    url: str | None
    image: str | None
    image_width: int | None
    image_height: int | None
    image_thumbnail: Thumbnail | None = None
    order: int = 0
    embed: None = None
    size: int
    mimetype: str
    image_renditions: list[ImageRendition] = []  # sorted by width, for srcset
    image_blurhash: str | None = None  # BlurHash (4x3) of the thumbnail

    @property
    def file_url(self) -> str:
        """The URL of the uploaded file itself: ``image`` for images, ``url`` for documents."""
        url = self.image if self.type != "doc" else self.url
        assert url is not None, "the contract gives every uploaded file a URL"
        return url


class MediaPage(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[Media]
