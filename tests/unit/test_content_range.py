"""Content-Range parsing: one strict grammar."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chunkup.api.content_range import parse_content_range
from chunkup.errors import ContentRangeRequired, InvalidContentRange
from chunkup.uploads.ranges import ChunkRange


def test_a_valid_header_parses_with_inclusive_end():
    cr = parse_content_range("bytes 1433600-1638399/2124437")
    assert (cr.start, cr.end, cr.total, cr.length) == (1433600, 1638399, 2124437, 204800)


def test_surrounding_whitespace_is_tolerated():
    assert parse_content_range("  bytes 0-0/1 ").length == 1


@pytest.mark.parametrize("header", [None, "", "   "])
def test_absent_header_is_content_range_required(header: str | None):
    with pytest.raises(ContentRangeRequired):
        parse_content_range(header)


@pytest.mark.parametrize(
    "header",
    [
        "bytes 0-9",
        "bytes 0-9/*",
        "bytes */100",
        "items 0-9/10",
        "bytes=0-9/10",
        "bytes 10-5/100",
        "bytes 0-100/100",
        "bytes 0-9/0",
        "bytes -1-9/10",
        "bytes 0--9/10",
        "bytes +0-9/10",
        "bytes 0 - 9/10",
        "bytes 0-9/10, bytes 10-19/20",
        "bytes ٠-٩/١٠",  # non-ASCII digits
        "bytes 0-9/99999999999999999999",
        f"bytes 0-9/{2**63}",
        "bytes 0x0-0x9/10",
    ],
)
def test_malformed_header_is_invalid_content_range(header: str):
    with pytest.raises(InvalidContentRange):
        parse_content_range(header)


@given(st.text(max_size=60))
def test_any_text_parses_or_is_refused_with_a_contract_error(header: str):
    try:
        cr = parse_content_range(header)
    except (ContentRangeRequired, InvalidContentRange):
        return
    assert 0 <= cr.start <= cr.end < cr.total < 2**63


@given(st.integers(-(2**70), 2**70), st.integers(-(2**70), 2**70), st.integers(-(2**70), 2**70))
def test_any_numbers_parse_only_when_they_make_a_range(start: int, end: int, total: int):
    header = f"bytes {start}-{end}/{total}"
    valid = 0 <= start <= end < total < 2**63
    if valid:
        assert parse_content_range(header) == ChunkRange(start, end, total)
    else:
        with pytest.raises(InvalidContentRange):
            parse_content_range(header)
