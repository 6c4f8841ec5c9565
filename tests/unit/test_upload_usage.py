"""An upload's bounds (uploads/usage.py) and the range set they rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chunkup.errors import TooManyChunks, TooManyRanges
from chunkup.models import Chunk, Kind, Upload, UploadStatus
from chunkup.uploads.ranges import RangeSet
from chunkup.uploads.usage import BLOCK, UsageLimits, footprint

LIMITS = UsageLimits(chunk_max_bytes=204800, chunk_factor=8, max_ranges=3)


def _upload(total: int) -> Upload:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    return Upload(
        "u" * 32,
        1,
        Kind.IMAGE,
        total,
        None,
        [],
        UploadStatus.UPLOADING,
        now,
        now + timedelta(days=1),
    )


def _piece(start: int, end: int) -> Chunk:
    return Chunk("u" * 32, start, end, f"k{start}")


@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 20)), max_size=30))
def test_adding_ranges_merges_them_like_the_set_of_their_bytes(spans: list[tuple[int, int]]):
    ranges, covered = RangeSet(), set()
    for start, length in spans:
        ranges.add(start, start + length)
        covered |= set(range(start, start + length + 1))
    assert ranges == RangeSet((byte, byte) for byte in covered)


def test_every_object_counts_at_least_one_block():
    assert [footprint(n) for n in (1, BLOCK, BLOCK + 1, 204800)] == [
        BLOCK,
        BLOCK,
        2 * BLOCK,
        204800,
    ]


def test_an_upload_may_hold_its_factor_times_the_chunks_its_size_needs_plus_one_allowance():
    assert LIMITS.max_chunks(300) == 16
    assert LIMITS.max_chunks(5 * 1024 * 1024) == 8 * 27
    assert LIMITS.max_chunks(50 * 1024 * 1024) == 8 * 257


def test_admitted_pieces_update_the_ranges_and_the_usage():
    upload, ranges = _upload(1000), RangeSet()
    LIMITS.admit(upload, ranges, [_piece(0, 9), _piece(20, 29)])
    assert upload.ranges == [[0, 9], [20, 29]]
    assert (upload.chunk_count, upload.stored_bytes) == (2, 2 * BLOCK)


def test_a_piece_that_opens_one_gap_too_many_is_refused_but_one_that_fills_a_gap_is_not():
    upload, ranges = _upload(1000), RangeSet()
    LIMITS.admit(upload, ranges, [_piece(0, 9), _piece(20, 29), _piece(40, 49)])
    with pytest.raises(TooManyRanges) as refused:
        LIMITS.admit(upload, RangeSet(upload.ranges), [_piece(60, 69)])
    assert refused.value.extra["offset"] == "10"
    LIMITS.admit(upload, RangeSet(upload.ranges), [_piece(10, 19)])
    assert upload.ranges == [[0, 29], [40, 49]]


def test_one_chunk_more_than_the_upload_may_hold_is_refused():
    upload, ranges = _upload(300), RangeSet()
    LIMITS.admit(upload, ranges, [_piece(i, i) for i in range(16)])
    with pytest.raises(TooManyChunks):
        LIMITS.admit(upload, RangeSet(upload.ranges), [_piece(16, 16)])
    assert upload.chunk_count == 16
