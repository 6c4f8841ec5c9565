"""The records the service works with, as plain values.

``db/`` maps them to and from rows; ``uploads/`` and ``api/`` only see these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    """Which multipart field an upload's chunks arrive in."""

    IMAGE = "image"
    DOCUMENT = "document"


class MediaType(StrEnum):
    IMAGE = "image"
    EIMAGE = "eimage"
    DOC = "doc"

    @classmethod
    def default_for(cls, kind: Kind) -> MediaType:
        return cls.IMAGE if kind is Kind.IMAGE else cls.DOC

    @property
    def is_image(self) -> bool:
        return self is not MediaType.DOC


class UploadStatus(StrEnum):
    UPLOADING = "uploading"
    COMPLETED = "completed"
    EXPIRED = "expired"


@dataclass(slots=True)
class Upload:
    id: str
    user_id: int
    kind: Kind
    total: int
    filename: str | None
    ranges: list[list[int]]
    status: UploadStatus
    created_at: datetime
    expires_at: datetime
    media_id: int | None = None
    completed_at: datetime | None = None
    chunk_count: int = 0  # chunk objects recorded
    stored_bytes: int = 0  # what they take in storage, padding included


@dataclass(frozen=True, slots=True)
class TusRecord:
    """What a tus client declared when it created an upload."""

    upload_id: str
    metadata: str  # the Upload-Metadata header as received, echoed by HEAD
    media_type: str | None
    concat: str | None  # "partial", "final" or None
    # what the metadata named: "type" (a Media type), "filetype" (only a MIME
    # type) or None; it decides how the first bytes are judged (uploads/kinds.py)
    declared: str | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    upload_id: str
    start: int
    end: int
    key: str


@dataclass(slots=True)
class Media:
    id: int
    user_id: int
    upload_id: str | None
    type: MediaType
    title: str | None
    filename: str
    file_token: str
    file_key: str
    mimetype: str
    size: int
    width: int | None
    height: int | None
    added_at: datetime
    extra: dict[str, object] = field(default_factory=dict)
