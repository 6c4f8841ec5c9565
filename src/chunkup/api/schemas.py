"""The contract's JSON shapes, as pydantic models (for OpenAPI and the media body)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from chunkup import models
from chunkup.api.timestamps import iso_z
from chunkup.media import stored
from chunkup.uploads.service import UploadState


class ErrorBody(BaseModel):
    detail: str = Field(description="A sentence for a person")
    code: str = Field(description="A machine-readable error code")
    offset: str | None = None
    field: str | None = None
    missing: list[list[int]] | None = None


class ChunkMedia(BaseModel):
    upload_id: str
    offset: str = Field(description="Bytes received contiguously from byte 0, as a string")
    expires: str


class UploadStatusBody(ChunkMedia):
    total: int
    kind: Literal["image", "document"]
    status: Literal["uploading", "completed", "expired"]
    ranges: list[list[int]]
    media_id: int | None = None


class Thumbnail(BaseModel):
    url: str
    width: int
    height: int
    color: str


class ImageRendition(BaseModel):
    """One responsive picture: a WebP at a standard width, or a HEIC/AVIF's full-size JPEG."""

    url: str
    width: int
    height: int
    mimetype: str


class Media(BaseModel):
    """The contract's Media (SelfCommunity's schema), with chunkup's picture fields."""

    id: int
    added_at: datetime
    type: Literal["image", "eimage", "doc"]
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
    image_renditions: list[ImageRendition] = Field(
        default_factory=list,
        description="WebP pictures at the standard widths (320, 640, 1280, 1920) below the "
        "image's own, never enlarged, and for HEIC/HEIF/AVIF a full-size JPEG; sorted by "
        "width, for srcset",
    )
    image_blurhash: str | None = Field(
        None, description="BlurHash (4x3 components) of the thumbnail, a placeholder to paint"
    )
    page_count: int | None = Field(
        default=None,
        description="A document's number of pages (null for images and sealed PDFs).",
    )


class MediaPage(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[Media]


def chunk_media(state: UploadState) -> dict[str, str]:
    return {
        "upload_id": state.upload.id,
        "offset": str(state.offset),
        "expires": iso_z(state.upload.expires_at),
    }


def upload_status(state: UploadState) -> UploadStatusBody:
    upload = state.upload
    return UploadStatusBody(
        **chunk_media(state),
        total=upload.total,
        kind=upload.kind.value,
        status=upload.status.value,
        ranges=state.ranges.to_list(),
        media_id=upload.media_id,
    )


def media_body(
    media: models.Media,
    file_url: str,
    *,
    thumbnail_url: str | None = None,
    preview_url: str | None = None,
    rendition_urls: list[str] | None = None,
) -> Media:
    """The Media; an image's ``image`` is the file, a document's its first-page preview."""
    thumbnail = stored.stored_rendition(media, stored.THUMBNAIL)
    preview = stored.stored_rendition(media, stored.PREVIEW)
    if media.type.is_image:
        url, image, width, height = None, file_url, media.width, media.height
    elif preview is not None and preview_url is not None:
        url, image, width, height = file_url, preview_url, preview.width, preview.height
    else:
        url, image, width, height = file_url, None, None, None
    return Media(
        id=media.id,
        added_at=media.added_at.replace(microsecond=0),
        type=media.type.value,
        title=media.title,
        url=url,
        image=image,
        image_width=width,
        image_height=height,
        image_thumbnail=(
            Thumbnail(
                url=thumbnail_url,
                width=thumbnail.width,
                height=thumbnail.height,
                color=thumbnail.color or "#000000",
            )
            if thumbnail is not None and thumbnail_url is not None
            else None
        ),
        size=media.size,
        mimetype=media.mimetype,
        image_renditions=[
            ImageRendition(
                url=url, width=picture.width, height=picture.height, mimetype=picture.mimetype
            )
            for picture, url in zip(
                stored.stored_pictures(media), rendition_urls or [], strict=False
            )
        ],
        image_blurhash=stored.stored_blurhash(media),
        page_count=_page_count(media),
    )


def _page_count(media: models.Media) -> int | None:
    """The page count recorded when a document was completed (none for images)."""
    pages = media.extra.get("pages")
    return pages if isinstance(pages, int) and not media.type.is_image else None
