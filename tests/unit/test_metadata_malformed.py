"""Metadata stripping refuses containers it cannot walk (``Malformed``) rather than
guessing: completion then keeps the decoded image's bytes as they are or refuses them
(tests/media). Each case cuts or breaks one structure of a real file."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from chunkup.media.metadata import Malformed, strip_metadata


def encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, fmt)
    return buffer.getvalue()


JPEG, PNG, WEBP, GIF = (encoded(f) for f in ("JPEG", "PNG", "WEBP", "GIF"))
# the GIF's first block follows its header, screen descriptor and global colour table
FIRST_BLOCK = 13 + (3 * 2 ** ((GIF[10] & 7) + 1) if GIF[10] & 0x80 else 0)

CASES = {
    "jpeg-no-soi": (b"\x00\x00" + JPEG[2:], "image/jpeg"),
    "jpeg-no-marker": (JPEG[:2] + b"\x00" + JPEG[3:], "image/jpeg"),
    "jpeg-truncated-header": (JPEG[:3], "image/jpeg"),
    "jpeg-segment-past-end": (JPEG[:2] + b"\xff\xe1\xff\xff" + b"x" * 10, "image/jpeg"),
    "png-no-signature": (b"\x89PNX" + PNG[4:], "image/png"),
    "png-truncated-chunk": (PNG[:8] + b"\x00\x00", "image/png"),
    "png-chunk-past-end": (PNG[:8] + b"\x7f\xff\xff\xffIHDR" + b"x" * 4, "image/png"),
    "webp-no-riff": (b"RIFX" + WEBP[4:], "image/webp"),
    "webp-chunk-past-end": (WEBP[:12] + b"VP8 \xff\xff\xff\x7f" + b"x" * 4, "image/webp"),
    "gif-no-header": (b"GIF00a" + GIF[6:], "image/gif"),
    "gif-unknown-block": (GIF[:FIRST_BLOCK] + b"\x99" + GIF[FIRST_BLOCK + 1 :], "image/gif"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_container_is_malformed(case: str):
    data, mimetype = CASES[case]
    with pytest.raises(Malformed):
        strip_metadata(data, mimetype, None)


@pytest.mark.parametrize("data", [JPEG, PNG, WEBP, GIF], ids=["jpeg", "png", "webp", "gif"])
def test_a_clean_file_has_nothing_to_strip(data: bytes):
    mimetype = {b"\xff\xd8": "image/jpeg", b"\x89P": "image/png", b"RI": "image/webp"}.get(
        data[:2], "image/gif"
    )
    assert strip_metadata(data, mimetype, None) is None
