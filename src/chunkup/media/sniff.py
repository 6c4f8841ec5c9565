"""Telling a file's type from its first bytes (before the whole file is read).

Two uses: completion names the stored file's extension from its content
(``sniff``), and the first bytes of an upload are checked against the kind it
declared (``refuse_unless_leading_bytes_fit``), so that a text file sent as an
image is refused at its first chunk instead of after its last one. The check
is only on the signature; full validation (decoding, parsing) still happens
at completion.
"""

from __future__ import annotations

from chunkup.errors import InvalidDocument, InvalidImage
from chunkup.models import Kind

SIGNATURES: list[tuple[bytes, str]] = [
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
]
HEAD_BYTES = 16
PDF_SIGNATURE = b"%PDF-"
# (offset, bytes) pieces a file's start must hold; WebP is RIFF, a size, then WEBP
Signature = tuple[tuple[int, bytes], ...]
Head = bytes | bytearray | memoryview
# HEIF and AVIF are ISO base media files: an 'ftyp' box first, whose major brand (bytes
# 8-12) and compatible brands name what it holds. Still images only: image sequences
# (msf1, hevc, avis) are not photos a feed shows. The box's 4-byte big-endian size comes
# first; an ftyp box is a few dozen bytes, far below 64 KiB, so its first two bytes are
# zero. Checking them lets a short first chunk (``PK\x03\x04``, 4 bytes) be judged
# on its own bytes instead of passing because it ends before ``ftyp``.
FTYP_SIZE_PREFIX = b"\x00\x00"
FTYP_BRANDS: dict[bytes, str] = {
    b"avif": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
}
_IMAGE_SIGNATURES: tuple[Signature, ...] = (
    ((0, b"\xff\xd8\xff"),),
    ((0, b"\x89PNG\r\n\x1a\n"),),
    ((0, b"GIF87a"),),
    ((0, b"GIF89a"),),
    ((0, b"RIFF"), (8, b"WEBP")),
    *(((0, FTYP_SIZE_PREFIX), (4, b"ftyp"), (8, brand)) for brand in FTYP_BRANDS),
)
_DOCUMENT_SIGNATURES: tuple[Signature, ...] = (((0, PDF_SIGNATURE),),)


def sniff(head: bytes) -> str | None:
    for signature, mimetype in SIGNATURES:
        if head.startswith(signature):
            return mimetype
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return sniff_ftyp(head)


def sniff_ftyp(data: bytes) -> str | None:
    """The image type an ISO base media file's ``ftyp`` box declares, if a still image.

    With the whole box at hand, a generic HEIF (major brand ``mif1``) that also
    lists ``avif`` or ``heic`` is that; with only the first 16 bytes, the major
    brand decides.
    """
    if data[4:8] != b"ftyp":
        return None
    major = FTYP_BRANDS.get(data[8:12])
    if major != "image/heif":
        return major
    box_end = min(len(data), int.from_bytes(data[:4], "big"))
    compatible = {data[at : at + 4] for at in range(16, box_end - 3, 4)}
    for brand in (b"avif", b"heic", b"heix"):
        if brand in compatible:
            return FTYP_BRANDS[brand]
    return major


def _could_start(head: Head, pieces: Signature) -> bool:
    """Whether ``head`` agrees with every piece of a signature as far as it goes.

    A head shorter than the signature is judged on what it has: a 2-byte first
    chunk of a JPEG must not be refused.
    """
    for offset, expected in pieces:
        seen = bytes(head[offset : offset + len(expected)])
        if seen != expected[: len(seen)]:
            return False
    return True


def leading_bytes_fit(kind: Kind, head: Head) -> bool:
    """Whether a file of ``kind`` could start with ``head`` (its first bytes)."""
    signatures = _IMAGE_SIGNATURES if kind is Kind.IMAGE else _DOCUMENT_SIGNATURES
    return any(_could_start(head, pieces) for pieces in signatures)


def refuse_unless_leading_bytes_fit(kind: Kind, head: Head, *, only_kind: bool = False) -> None:
    """Raise the error completion would give if the file cannot become a Media.

    By default the bytes may begin a file of either kind: the contract lets
    completion's ``type`` override the field (a PNG sent in the ``document``
    field may be completed as an image), so only bytes that are neither an
    image nor a PDF are refused, with the error of ``kind``. With
    ``only_kind`` (a tus upload whose metadata names its Media type, which
    completes itself as that type) they must begin a file of ``kind``.
    """
    kinds = (kind,) if only_kind else (Kind.IMAGE, Kind.DOCUMENT)
    if any(leading_bytes_fit(candidate, head) for candidate in kinds):
        return
    if kind is Kind.IMAGE:
        raise InvalidImage(
            "The file does not start like a JPEG, PNG, GIF, WebP, HEIC or AVIF image, "
            "so it was refused at its first bytes."
        )
    raise InvalidDocument("The file does not start with %PDF-, so it is not a PDF.")
