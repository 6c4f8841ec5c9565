"""Content checks run at completion, in a worker thread (they decode).

The type a client names is a claim; these functions decide from the bytes. A
file that fails is refused with the contract's ``invalid_image`` or
``invalid_document``, never with a decoder's traceback.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from chunkup.errors import InvalidDocument, InvalidImage
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
_ORIENTATION = 0x0112
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}


@dataclass(frozen=True, slots=True)
class Inspection:
    mimetype: str
    width: int | None = None
    height: int | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.mimetype, "")


def inspect_file(path: Path, media_type: MediaType, *, max_pixels: int) -> Inspection:
    if media_type.is_image:
        return inspect_image(path, max_pixels=max_pixels)
    return inspect_pdf(path)


def inspect_image(path: Path, *, max_pixels: int) -> Inspection:
    """Open, bound, verify and fully decode the image; report its displayed size."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=list(IMAGE_FORMATS)) as image:
                mimetype = IMAGE_FORMATS[image.format or ""]
                width, height = image.size
                if width * height > max_pixels:
                    raise InvalidImage(
                        f"The image has {width}x{height} pixels, above the limit of {max_pixels}."
                    )
                image.verify()
            # verify() leaves the image unusable; decode for real to catch truncation
            with Image.open(path, formats=list(IMAGE_FORMATS)) as image:
                orientation = image.getexif().get(_ORIENTATION)
                frames = getattr(image, "n_frames", 1)
                if image.format == "JPEG":
                    # the whole stream is still decoded, into 1/64 of the pixels
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
    except InvalidImage:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        KeyError,
        Image.DecompressionBombError,
        EOFError,
    ) as exc:
        raise InvalidImage() from exc
    if orientation in _SWAPPING_ORIENTATIONS:
        width, height = height, width
    extra: dict[str, object] = {"frames": frames} if frames > 1 else {}
    return Inspection(mimetype, width, height, extra)


def inspect_pdf(path: Path) -> Inspection:
    """A PDF starts with ``%PDF-`` and pypdf can read its pages."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import PyPdfError

    with open(path, "rb") as handle:
        if handle.read(5) != b"%PDF-":
            raise InvalidDocument("The file does not start with %PDF-.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(path, strict=False)
            encrypted = reader.is_encrypted
            if encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
                # readable only with a password: accepted, but its pages are sealed
                return Inspection("application/pdf", extra={"encrypted": True})
            pages = len(reader.pages)
    except (
        PyPdfError,
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        RecursionError,
    ) as exc:
        raise InvalidDocument() from exc
    if pages < 1:
        raise InvalidDocument("The PDF has no pages.")
    extra: dict[str, object] = {"pages": pages}
    if encrypted:
        extra["encrypted"] = True
    return Inspection("application/pdf", extra=extra)
