"""Reading tus header values into the typed values of ``chunkup.uploads.tus_values``.

Every spelling rule of tus's headers lives here (numbers, ``Upload-Metadata``'s
base64 pairs, ``Upload-Checksum``, ``Upload-Concat``'s URLs), so the tus
service takes what a request means and never a header's text. A malformed
value is ``InvalidTusHeader`` naming the header, as the tus tests pin.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlsplit

from chunkup.errors import ChecksumAlgorithmUnsupported, InvalidTusHeader, UploadNotFound
from chunkup.uploads import keys
from chunkup.uploads.tus_values import CHECKSUMS, Checksum, Concat, TusMetadata

MAX_METADATA = 8192
MAX_PARTS = 256
_KEY = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NUMBER = re.compile(r"[0-9]{1,18}")


def parse_number(value: str | None, header: str) -> int:
    """A non-negative integer header (Upload-Length, Upload-Offset)."""
    if value is None:
        raise InvalidTusHeader(f"The {header} header is required.", header=header)
    value = value.strip()
    if not _NUMBER.fullmatch(value):
        raise InvalidTusHeader(f"{header} must be a non-negative integer.", header=header)
    return int(value)


def parse_metadata(value: str | None) -> TusMetadata:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (the value optional)."""
    if value is None or not value.strip():
        return TusMetadata()
    if len(value) > MAX_METADATA:
        raise InvalidTusHeader("Upload-Metadata is too long.", header="Upload-Metadata")
    pairs: dict[str, str | None] = {}
    for item in value.split(","):
        words = item.strip().split(" ")
        if not _KEY.fullmatch(words[0]) or len(words) > 2 or words[0] in pairs:
            raise InvalidTusHeader("Upload-Metadata is malformed.", header="Upload-Metadata")
        try:
            text = (
                base64.b64decode(words[1], validate=True).decode("utf-8")
                if len(words) == 2
                else None
            )
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise InvalidTusHeader(
                f"Upload-Metadata: the value of {words[0]!r} is not base64 of UTF-8.",
                header="Upload-Metadata",
            ) from exc
        pairs[words[0]] = text
    return TusMetadata(value.strip(), pairs)


def parse_checksum(value: str | None) -> Checksum | None:
    """``Upload-Checksum``: ``algorithm base64digest``, the algorithm one of ``CHECKSUMS``."""
    if value is None:
        return None
    words = value.strip().split(" ")
    if len(words) != 2:
        raise InvalidTusHeader("Upload-Checksum is malformed.", header="Upload-Checksum")
    algorithm = words[0].lower()
    if algorithm not in CHECKSUMS:
        raise ChecksumAlgorithmUnsupported()
    try:
        digest = base64.b64decode(words[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidTusHeader(
            "Upload-Checksum's digest is not base64.", header="Upload-Checksum"
        ) from exc
    return Checksum(algorithm, digest)


def parse_concat(value: str | None) -> Concat | None:
    """``Upload-Concat``: ``partial``, or ``final;`` and the parts' URLs (absolute or not)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value == "partial":
        return Concat(final=False)
    if not value.startswith("final;"):
        raise InvalidTusHeader("Upload-Concat is malformed.", header="Upload-Concat")
    urls = value[len("final;") :].split()
    try:
        ids = tuple(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] for url in urls)
    except ValueError as exc:  # urlsplit: "Invalid IPv6 URL" and the like
        raise InvalidTusHeader(
            "Upload-Concat names a malformed URL.", header="Upload-Concat"
        ) from exc
    if not ids or len(ids) > MAX_PARTS or len(set(ids)) != len(ids):
        raise InvalidTusHeader(
            f"Upload-Concat final names 1 to {MAX_PARTS} distinct uploads.",
            header="Upload-Concat",
        )
    if not all(keys.is_upload_id(i) for i in ids):
        raise UploadNotFound("Upload-Concat names an upload that does not exist.")
    return Concat(final=True, part_ids=ids)
