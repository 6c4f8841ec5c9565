"""What one upload may hold in storage: how many chunk objects, how many gaps.

A client picks its chunks' sizes and order, and without bounds it picks our
costs with them. Every chunk object takes at least one 4 KiB block (local disk
pads appended objects to whole blocks so that deleting one frees exactly its
blocks; an object store has a per-object cost too): 10 000 one-byte chunks took
39 MiB. And every separate byte range is read, merged and written back by each
chunk of that upload and listed in its status: 6000 chunks with gaps between
them made each chunk five times slower and the status 73 KB.

The bounds are chosen as the careful services choose theirs. S3 takes at most
10 000 parts per upload, each at least 5 MiB but the last; tusd takes no gaps
at all (a PATCH must start at the offset). The chunk protocol allows chunks out
of order and in parallel, so gaps are allowed, but only as many as parallel
senders and a few lost chunks need (``upload_max_ranges``); and an upload may
be stored in at most ``upload_chunk_factor`` times the chunks its size needs at
``chunk_max_bytes``, plus one such allowance for small files. So an upload
takes at most its size plus one block per allowed object, and quotas count
what its chunks take (``stored_bytes``) beyond what its declared size needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chunkup.errors import TooManyChunks, TooManyRanges
from chunkup.models import Chunk, Upload
from chunkup.settings import Settings
from chunkup.uploads.ranges import RangeSet

BLOCK = 4096  # the least a chunk object is counted as taking


def footprint(length: int) -> int:
    """What a chunk object of ``length`` bytes is counted as taking in storage."""
    return max(BLOCK, length + -length % BLOCK)


@dataclass(frozen=True, slots=True)
class UsageLimits:
    chunk_max_bytes: int
    chunk_factor: int
    max_ranges: int

    @classmethod
    def from_settings(cls, settings: Settings) -> UsageLimits:
        return cls(
            settings.chunk_max_bytes, settings.upload_chunk_factor, settings.upload_max_ranges
        )

    def max_chunks(self, total: int) -> int:
        """Chunk objects an upload of ``total`` bytes may hold."""
        needed = -(-total // self.chunk_max_bytes)
        return self.chunk_factor * (needed + 1)

    def admit(self, upload: Upload, ranges: RangeSet, pieces: Sequence[Chunk]) -> None:
        """Add ``pieces`` (new, not overlapping) to ``ranges`` and to the upload's
        ranges and usage, or refuse them; the caller records them and saves the upload."""
        limit = self.max_chunks(upload.total)
        if upload.chunk_count + len(pieces) > limit:
            raise TooManyChunks(
                f"An upload of {upload.total} bytes may be stored in at most {limit} chunks; "
                f"send chunks of up to {self.chunk_max_bytes} bytes.",
                offset=str(ranges.contiguous_from_zero()),
            )
        offset = ranges.contiguous_from_zero()
        for piece in pieces:
            ranges.add(piece.start, piece.end)
        if len(ranges) > self.max_ranges:
            raise TooManyRanges(
                f"An upload may hold at most {self.max_ranges} separate byte ranges; "
                "send the chunks that fill its gaps first.",
                offset=str(offset),
            )
        upload.ranges = ranges.to_list()
        upload.chunk_count += len(pieces)
        upload.stored_bytes += sum(footprint(p.end - p.start + 1) for p in pieces)
