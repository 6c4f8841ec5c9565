"""Telling a file's type from its first bytes (before the whole file is read)."""

from __future__ import annotations

SIGNATURES: list[tuple[bytes, str]] = [
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
]
HEAD_BYTES = 16


def sniff(head: bytes) -> str | None:
    for signature, mimetype in SIGNATURES:
        if head.startswith(signature):
            return mimetype
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return sniff_ftyp(head)


# HEIF and AVIF are ISO base media files: an 'ftyp' box first, whose major brand (bytes
# 8-12) and compatible brands name what it holds. Still images only: image sequences
# (msf1, hevc, avis) are not photos a feed shows.
FTYP_BRANDS: dict[bytes, str] = {
    b"avif": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
}


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
