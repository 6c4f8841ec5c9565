"""Content checks run at completion, in a worker thread (they decode).

The type a client names is a claim; these functions decide from the bytes. A
file that fails is refused with the contract's ``invalid_image`` or
``invalid_document``, never with a decoder's traceback. A file that passes
comes back with what the feed needs: its displayed size, a thumbnail and its
BlurHash, the responsive pictures (``renditions.ladder``; for a PDF, of its
first-page preview), and for an image, where it carried metadata, the bytes to
store instead of the uploaded ones.

Phone photos in HEIC/HEIF (through ``pillow-heif``) and AVIF (Pillow's own
plugin) are images too; browsers cannot all show them, so they also get a
full-size JPEG among their pictures.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from chunkup.errors import InvalidImage
from chunkup.media import metadata
from chunkup.media.renditions import (
    PREVIEW_SIDE,
    THUMBNAIL_SIDE,
    WIDTHS,
    Ladder,
    Picture,
    Rendition,
    fit,
    ladder,
    rendition,
    swaps_sides,
)
from chunkup.media.sandbox import PdfSandbox
from chunkup.media.sniff import sniff_ftyp
from chunkup.models import MediaType

log = logging.getLogger(__name__)

IMAGE_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "HEIF": "image/heif",  # image/heic when its brand says HEVC (sniff_ftyp)
    "AVIF": "image/avif",
}
# what not every browser shows: these get a full-size JPEG beside the original
NOT_FOR_BROWSERS = {"image/heic", "image/heif", "image/avif"}
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/avif": ".avif",
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
    blurhash: str | None = None
    # the responsive widths (and a full-size JPEG for HEIC/AVIF), narrowest first
    pictures: tuple[Picture, ...] = ()
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
    """Bound, verify and decode the image once; make its pictures; strip its metadata."""
    PngImagePlugin.MAX_TEXT_MEMORY = PNG_TEXT_MEMORY  # process-wide, so set before each use
    data = path.read_bytes()  # at most image_max_bytes
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(data) as image:
                mimetype = IMAGE_FORMATS[image.format or ""]
                if image.format == "HEIF":
                    mimetype = sniff_ftyp(data[:4096]) or mimetype
                width, height = image.size
                if width * height > max_pixels:  # from the header, before any decoding
                    raise InvalidImage(
                        f"The image has {width}x{height} pixels, above the limit of {max_pixels}."
                    )
                image.verify()
            # verify() leaves the image unusable; decode for real to catch truncation
            with _open(data) as image:
                orientation = _orientation(image)
                frames = getattr(image, "n_frames", 1)
                widths = WIDTHS if frames == 1 else ()  # an animation stays the original
                full = mimetype in NOT_FOR_BROWSERS
                if image.format == "JPEG":
                    # the whole stream is still decoded, at the smallest DCT scale that
                    # still covers the largest picture made from it
                    image.draft("RGB", _largest(width, height, orientation, widths))
                image.load()
                made = _ladder(image, orientation, widths, full)
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
    return Inspection(
        mimetype,
        width,
        height,
        extra,
        made.thumbnail if made else None,
        replacement=replacement,
        blurhash=made.blurhash if made else None,
        pictures=made.pictures if made else (),
    )


def inspect_pdf(path: Path, sandbox: PdfSandbox) -> Inspection:
    """Read and rendered in the sandbox: this process never parses the PDF itself."""
    report = sandbox.inspect(path, longest=PREVIEW_SIDE)
    extra: dict[str, object] = {}
    if report.pages is not None:
        extra["pages"] = report.pages
    if report.encrypted:
        extra["encrypted"] = True
    page = report.first_page
    if page is None:
        return Inspection("application/pdf", extra=extra)
    preview = rendition(page, longest=PREVIEW_SIDE)
    # the responsive widths below the preview's own (the preview is the largest picture)
    made = ladder(page)
    return Inspection(
        "application/pdf",
        extra=extra,
        thumbnail=made.thumbnail,
        preview=preview,
        blurhash=made.blurhash,
        pictures=made.pictures,
    )


def _open(data: bytes) -> Image.Image:
    register_heif()
    return Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS))


@cache
def register_heif() -> None:
    """Teach Pillow HEIF, once, on first use (``preload`` calls it at start-up)."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def _largest(
    width: int, height: int, orientation: int | None, widths: tuple[int, ...]
) -> tuple[int, int]:
    """The stored size the largest picture made from a ``width`` x ``height`` image needs."""
    shown = (height, width) if swaps_sides(orientation) else (width, height)
    needed = max([w for w in widths if w < shown[0]], default=0)
    size = (needed, round(shown[1] * needed / shown[0])) if needed else (0, 0)
    thumbnail = fit(*shown, THUMBNAIL_SIDE)
    size = max(size, thumbnail)
    return size[::-1] if swaps_sides(orientation) else size


def _orientation(image: Image.Image) -> int | None:
    value = image.getexif().get(metadata.ORIENTATION)
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _ladder(
    image: Image.Image, orientation: int | None, widths: tuple[int, ...], full: bool
) -> Ladder | None:
    """The first frame's pictures, upright; ``None`` if making them fails."""
    try:
        return ladder(
            image,
            orientation=orientation,
            icc_profile=image.info.get("icc_profile"),
            widths=widths,
            full=full,
            release=True,  # nothing reads the decoded pixels after this
        )
    except Exception:  # missing pictures must not refuse an image that decodes
        log.exception("pictures failed for a %s image", image.format)
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
