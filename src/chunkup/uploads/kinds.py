"""What an upload may be, and how large: the one home of the kind, type and size rules.

An upload has a *kind* (the multipart field its chunks came in, or what tus
metadata declared) and completes as a Media *type* (``image``, ``eimage``,
``doc``). The kind bounds the upload's size while bytes arrive; the type
bounds it again at completion (an ``image`` upload completed as ``doc`` may be
as large as a document). The two limits come from the settings
(``CHUNKUP_IMAGE_MAX_BYTES``, ``CHUNKUP_DOCUMENT_MAX_BYTES``); everything that
needs one asks here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chunkup.errors import InvalidType
from chunkup.models import Kind, MediaType
from chunkup.settings import Settings


@dataclass(frozen=True, slots=True)
class SizeLimits:
    image: int
    document: int

    @classmethod
    def of(cls, settings: Settings) -> SizeLimits:
        return cls(image=settings.image_max_bytes, document=settings.document_max_bytes)

    @property
    def largest(self) -> int:
        """What any upload may be (tus's ``Tus-Max-Size``)."""
        return max(self.image, self.document)

    def for_kind(self, kind: Kind) -> int:
        return self.image if kind is Kind.IMAGE else self.document

    def for_type(self, media_type: MediaType) -> int:
        return self.for_kind(kind_for(media_type))


def kind_for(media_type: MediaType) -> Kind:
    """The kind whose limit a Media type has: ``image`` and ``eimage`` are images."""
    return Kind.IMAGE if media_type.is_image else Kind.DOCUMENT


def parse_media_type(value: str | None) -> MediaType | None:
    """The ``type`` a client asked for, None if it asked for none."""
    if value is None or value == "":
        return None
    try:
        return MediaType(value)
    except ValueError as exc:
        raise InvalidType(field="type") from exc


def kind_of(metadata: Mapping[str, str | None]) -> tuple[Kind, MediaType | None]:
    """A tus upload's kind (its size limit) and the Media type the client asked for, if any.

    ``type`` decides (image and eimage are images, doc a document). Uppy sets
    every file's ``type`` to its MIME type and sends it as metadata, so a MIME
    type there names the Media type too (``image/*`` an image, anything else a
    document): a plain Uppy with no per-file hooks gets Media of the right
    type. Without ``type``, an ``image/*`` ``filetype`` is an image and
    anything else a document.
    """
    declared = (metadata.get("type") or "").strip().lower()
    media_type: MediaType | None
    if "/" in declared:
        media_type = MediaType.IMAGE if declared.startswith("image/") else MediaType.DOC
    else:
        media_type = parse_media_type(metadata.get("type"))
    if media_type is not None:
        return kind_for(media_type), media_type
    filetype = (metadata.get("filetype") or "").strip().lower()
    return (Kind.IMAGE if filetype.startswith("image/") else Kind.DOCUMENT), None


def declared_by(metadata: Mapping[str, str | None]) -> str | None:
    """What tus metadata names, as ``TusRecord.declared`` keeps it: ``type``,
    ``filetype`` or None."""
    if metadata.get("type"):
        return "type"
    return "filetype" if metadata.get("filetype") else None


def first_bytes_rule(kind: Kind, declared: str | None) -> tuple[Kind, bool] | None:
    """How a tus upload's first bytes are judged: the kind, and whether they must fit
    exactly that kind. With a ``type`` the upload completes itself as that type;
    with a ``filetype`` only, the client completes it and may still choose (an
    image or a PDF will do). With neither, the kind is only a default and nothing
    is judged before completion."""
    if declared is None:
        return None
    return kind, declared == "type"
