"""Byte-range bookkeeping for one upload.

An upload's stored bytes are a set of disjoint, inclusive ``(start, end)``
ranges. It is kept merged and sorted, so its size follows the number of gaps a
client leaves, not the number of chunks: a series upload is one range however
long it grows. That is what lets a chunk be accepted without looking at every
chunk stored before it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

Range = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ChunkRange:
    """Where one chunk's bytes go: ``start`` to ``end`` (inclusive) of ``total``.

    The HTTP layer reads it from a ``Content-Range`` header (``api/content_range.py``).
    """

    start: int
    end: int  # inclusive
    total: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class RangeSet:
    """Disjoint inclusive byte ranges, merged and sorted."""

    __slots__ = ("_ranges",)

    def __init__(self, ranges: Iterable[Sequence[int]] = ()) -> None:
        """``ranges`` as tuples, or as lists as an upload's stored ``ranges`` (JSON) has them."""
        self._ranges: list[Range] = []
        for start, end in sorted(ranges, key=tuple):
            self._append_merged(start, end)

    def _append_merged(self, start: int, end: int) -> None:
        if start > end or start < 0:
            raise ValueError(f"invalid range {start}-{end}")
        if self._ranges and start <= self._ranges[-1][1] + 1:
            last_start, last_end = self._ranges[-1]
            self._ranges[-1] = (last_start, max(last_end, end))
        else:
            self._ranges.append((start, end))

    def __iter__(self) -> Iterator[Range]:
        return iter(self._ranges)

    def __len__(self) -> int:
        return len(self._ranges)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RangeSet) and self._ranges == other._ranges

    def __repr__(self) -> str:
        return f"RangeSet({self._ranges!r})"

    def to_list(self) -> list[list[int]]:
        return [[s, e] for s, e in self._ranges]

    @property
    def size(self) -> int:
        """Bytes covered."""
        return sum(e - s + 1 for s, e in self._ranges)

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect_right(self._ranges, (start, float("inf")))
        # the range starting at or before `start` may reach into it
        if i > 0 and self._ranges[i - 1][1] >= start:
            return True
        return i < len(self._ranges) and self._ranges[i][0] <= end

    def add(self, start: int, end: int) -> None:
        """Add ``start..end``, merging with neighbours it touches.

        Two binary searches and one slice assignment: the cost does not grow
        with the ranges held (but for the list's memmove, negligible at the
        bounded count ``uploads/usage.py`` allows)."""
        if start > end or start < 0:
            raise ValueError(f"invalid range {start}-{end}")
        ranges = self._ranges
        # [first, last) are the ranges that overlap or touch start..end
        first = bisect_left(ranges, start - 1, key=_end)
        last = bisect_right(ranges, end + 1, key=_start)
        if first < last:
            start, end = min(start, ranges[first][0]), max(end, ranges[last - 1][1])
        ranges[first:last] = [(start, end)]

    def contiguous_from_zero(self) -> int:
        """Bytes stored contiguously from byte 0: the next byte a series client sends."""
        if self._ranges and self._ranges[0][0] == 0:
            return self._ranges[0][1] + 1
        return 0

    def missing(self, total: int) -> list[list[int]]:
        """The ranges of ``0..total-1`` not stored, inclusive."""
        gaps: list[list[int]] = []
        cursor = 0
        for s, e in self._ranges:
            if s > cursor:
                gaps.append([cursor, s - 1])
            cursor = max(cursor, e + 1)
        if cursor < total:
            gaps.append([cursor, total - 1])
        return gaps

    def covers(self, total: int) -> bool:
        return self.contiguous_from_zero() >= total


def _start(r: Range) -> int:
    return r[0]


def _end(r: Range) -> int:
    return r[1]
