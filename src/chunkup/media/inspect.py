"""Content checks run at completion, in a worker thread (they decode).

The type a client names is a claim; these functions decide from the bytes. A
file that fails is refused with the contract's ``invalid_image`` or
``invalid_document``, never with a decoder's traceback. A file that passes
comes back with what the feed needs: its displayed size, a thumbnail (and for
a PDF a first-page preview), and for an image, where it carried metadata, the
bytes to store instead of the uploaded ones.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from chunkup.errors import InvalidImage
from chunkup.media import metadata
from chunkup.media.renditions import (
    PREVIEW_SIDE,
    THUMBNAIL_SIDE,
    Rendition,
    fit,
    rendition,
    swaps_sides,
)
from chunkup.media.sandbox import PdfSandbox
from chunkup.models import MediaType

log = logging.getLogger(__name__)

IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}
# Pillow inflates a PNG's text chunks as it opens it and keeps them, up to 64 MiB
# (MAX_TEXT_MEMORY; 1 MiB a chunk, MAX_TEXT_CHUNK, which also bounds the ICC
# profile): 120 MiB of peak for a 62 KB, 64x64 image. Stored images lose their text
# anyway; a PNG with more than this much of it is refused as a bomb.
PNG_TEXT_MEMORY = 4 * 1024 * 1024
_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    KeyError,
    Image.DecompressionBombError,
    EOFError,
)


@dataclass(frozen=True, slots=True)
class Inspection:
    mimetype: str
    width: int | None = None
    height: int | None = None
    extra: dict[str, object] = field(default_factory=dict)
    thumbnail: Rendition | None = None
    preview: Rendition | None = None
    # the bytes to store instead of the uploaded ones (metadata removed), if they differ
    replacement: bytes | None = None

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.mimetype, "")


def inspect_file(
    path: Path,
    media_type: MediaType,
    *,
    max_pixels: int,
    pdf_sandbox: PdfSandbox,
    strip_metadata: bool = True,
) -> Inspection:
    if media_type.is_image:
        return inspect_image(path, max_pixels=max_pixels, strip_metadata=strip_metadata)
    return inspect_pdf(path, pdf_sandbox)


def inspect_image(path: Path, *, max_pixels: int, strip_metadata: bool = True) -> Inspection:
    """Bound, verify and decode the image once; thumbnail it; strip its metadata."""
    PngImagePlugin.MAX_TEXT_MEMORY = PNG_TEXT_MEMORY  # process-wide, so set before each use
    data = path.read_bytes()  # at most image_max_bytes
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(data) as image:
                mimetype = IMAGE_FORMATS[image.format or ""]
                width, height = image.size
                if width * height > max_pixels:  # from the header, before any decoding
                    raise InvalidImage(
                        f"The image has {width}x{height} pixels, above the limit of {max_pixels}."
                    )
                image.verify()
            # verify() leaves the image unusable; decode for real to catch truncation
            with _open(data) as image:
                if image.format == "JPEG":
                    # the whole stream is still decoded, at the smallest DCT scale that
                    # still covers the thumbnail
                    image.draft("RGB", fit(width, height, THUMBNAIL_SIDE))
                image.load()
                orientation = _orientation(image)
                thumbnail = _thumbnail(image, orientation)
                frames = getattr(image, "n_frames", 1)
            replacement = _stripped(data, mimetype, orientation) if strip_metadata else None
    except InvalidImage:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own ceiling, met in Image.open
        raise InvalidImage(f"The image has more pixels than the limit of {max_pixels}.") from exc
    except _DECODE_ERRORS as exc:
        raise InvalidImage() from exc
    if swaps_sides(orientation):
        width, height = height, width
    extra: dict[str, object] = {"frames": frames} if frames > 1 else {}
    if replacement is not None:
        extra["metadata_stripped"] = True
    return Inspection(mimetype, width, height, extra, thumbnail, replacement=replacement)


def inspect_pdf(path: Path, sandbox: PdfSandbox) -> Inspection:
    """Read and rendered in the sandbox: this process never parses the PDF itself."""
    report = sandbox.inspect(path, longest=PREVIEW_SIDE)
    extra: dict[str, object] = {}
    if report.pages is not None:
        extra["pages"] = report.pages
    if report.encrypted:
        extra["encrypted"] = True
    preview = thumbnail = None
    page = report.first_page
    if page is not None:
        preview = rendition(page, longest=PREVIEW_SIDE)
        thumbnail = rendition(page, longest=THUMBNAIL_SIDE)
    return Inspection("application/pdf", extra=extra, thumbnail=thumbnail, preview=preview)


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS))


def _orientation(image: Image.Image) -> int | None:
    value = image.getexif().get(metadata.ORIENTATION)
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _thumbnail(image: Image.Image, orientation: int | None) -> Rendition | None:
    """The first frame, upright, at most THUMBNAIL_SIDE px; ``None`` if that fails."""
    try:
        return rendition(
            image,
            longest=THUMBNAIL_SIDE,
            orientation=orientation,
            icc_profile=image.info.get("icc_profile"),
        )
    except Exception:  # a missing thumbnail must not refuse an image that decodes
        log.exception("thumbnail failed for a %s image", image.format)
        return None


def _stripped(data: bytes, mimetype: str, orientation: int | None) -> bytes | None:
    """``data`` without its metadata, checked to be the same image; ``None``: keep ``data``.

    Called under the caller's ``catch_warnings`` (opening repeats the bomb check).
    """
    try:
        stripped = metadata.strip_metadata(data, mimetype, orientation)
        if stripped is None:
            return None
        with _open(data) as before, _open(stripped) as after:  # headers only
            same = (before.format, before.size, before.mode) == (
                after.format,
                after.size,
                after.mode,
            )
    except (metadata.Malformed, *_DECODE_ERRORS) as exc:
        log.warning("metadata left in a %s: %s", mimetype, exc)
        return None
    if not same:
        log.warning("metadata left in a %s: the stripped file reads differently", mimetype)
        return None
    return stripped
