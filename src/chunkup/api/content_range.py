"""Parsing the ``Content-Range`` header of a chunk: ``bytes <start>-<end>/<total>``.

Strict on purpose: one grammar, ASCII digits only, no signs, no spaces inside
numbers, a known total. Anything else is ``invalid_content_range`` rather than
a guess about what the client meant.
"""

from __future__ import annotations

import re

from chunkup.errors import ContentRangeRequired, InvalidContentRange
from chunkup.uploads.ranges import ChunkRange

# 19 digits keeps every value below 10**19; totals beyond any size limit are
# refused later as file_too_large, not here.
_PATTERN = re.compile(r"bytes[ \t]+([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19})", re.ASCII)
MAX_VALUE = 2**63 - 1


def parse_content_range(header: str | None) -> ChunkRange:
    """The chunk's place in its upload, as the domain takes it."""
    if header is None or not header.strip(" \t"):
        raise ContentRangeRequired()
    # HTTP whitespace only: a Unicode space around the value is not a range
    match = _PATTERN.fullmatch(header.strip(" \t"))
    if match is None:
        raise InvalidContentRange(
            "Content-Range must be 'bytes <start>-<end>/<total>' with a known total."
        )
    start, end, total = (int(g) for g in match.groups())
    if total > MAX_VALUE:
        raise InvalidContentRange("Content-Range total is out of range.")
    if total == 0:
        raise InvalidContentRange("Content-Range total must be above 0.")
    if end < start:
        raise InvalidContentRange("Content-Range end is before its start.")
    if end >= total:
        raise InvalidContentRange("Content-Range end is beyond the total.")
    return ChunkRange(start, end, total)
