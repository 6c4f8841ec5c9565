"""RangeSet: the merged byte ranges of one upload."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chunkup.uploads.ranges import RangeSet


def test_adjacent_ranges_merge_into_one():
    ranges = RangeSet()
    ranges.add(0, 9)
    ranges.add(10, 19)
    assert ranges.to_list() == [[0, 19]]


def test_out_of_order_ranges_leave_a_gap_until_it_is_filled():
    ranges = RangeSet()
    ranges.add(20, 29)
    ranges.add(0, 9)
    assert ranges.to_list() == [[0, 9], [20, 29]]
    assert ranges.contiguous_from_zero() == 10
    ranges.add(10, 19)
    assert ranges.to_list() == [[0, 29]]
    assert ranges.contiguous_from_zero() == 30


def test_offset_is_zero_until_byte_zero_arrives():
    assert RangeSet([(5, 9)]).contiguous_from_zero() == 0


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(0, 0, True), (9, 12, True), (10, 19, False), (30, 40, False), (15, 25, True), (25, 35, True)],
)
def test_overlap_is_any_shared_byte(start: int, end: int, expected: bool):
    assert RangeSet([(0, 9), (20, 29)]).overlaps(start, end) is expected


def test_missing_lists_the_gaps_up_to_the_total():
    assert RangeSet([(10, 19), (30, 39)]).missing(50) == [[0, 9], [20, 29], [40, 49]]
    assert RangeSet([(0, 49)]).missing(50) == []


def test_covers_only_when_every_byte_is_there():
    assert RangeSet([(0, 49)]).covers(50)
    assert not RangeSet([(0, 48)]).covers(50)


def test_invalid_ranges_are_refused():
    with pytest.raises(ValueError):
        RangeSet().add(5, 4)
    with pytest.raises(ValueError):
        RangeSet().add(-1, 4)


@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 20)), max_size=30))
def test_a_rangeset_covers_exactly_the_bytes_added(pieces: list[tuple[int, int]]):
    ranges = RangeSet()
    covered: set[int] = set()
    for start, length in pieces:
        ranges.add(start, start + length)
        covered.update(range(start, start + length + 1))
    assert ranges.size == len(covered)
    listed = ranges.to_list()
    # sorted, disjoint and not touching (else they would have merged)
    for (_, end), (next_start, _) in zip(listed, listed[1:], strict=False):
        assert next_start > end + 1
    for byte in range(0, 230):
        assert ranges.overlaps(byte, byte) is (byte in covered)
    missing = {b for s, e in ranges.missing(230) for b in range(s, e + 1)}
    assert missing == set(range(230)) - covered
    expected_offset = 0
    while expected_offset in covered:
        expected_offset += 1
    assert ranges.contiguous_from_zero() == expected_offset


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 10)), max_size=20))
def test_building_from_a_list_equals_adding_one_by_one(pieces: list[tuple[int, int]]):
    pairs = [(s, s + n) for s, n in pieces]
    one_by_one = RangeSet()
    for s, e in pairs:
        one_by_one.add(s, e)
    assert RangeSet(pairs) == one_by_one
