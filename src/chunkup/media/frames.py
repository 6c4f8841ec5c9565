"""The PDF sandbox's wire format: one message is a JSON header and raw bytes.

A frame is a 4-byte big-endian header length, the header (a JSON object) and
then ``header["payload"]`` bytes (none when absent). JSON, not pickle: the
child parses hostile files, and whatever it sends back is read as data, never
as code. The reader bounds the header and the payload before reading them and
gives up at a deadline, so a stuck or runaway child costs the reader nothing.
"""

from __future__ import annotations

import json
import os
import select
import time
from typing import Any, BinaryIO

HEADER_LIMIT = 64 * 1024
_LENGTH = 4
_READ = 1024 * 1024


class FrameError(Exception):
    """The other side closed the pipe, sent a malformed frame, or missed the deadline."""


class FrameTimeout(FrameError):
    """Nothing complete arrived before the deadline."""


def write_frame(out: BinaryIO, header: dict[str, Any], payload: bytes = b"") -> None:
    """Send one message; ``payload`` travels as it is, after the header."""
    if payload:
        header = {**header, "payload": len(payload)}
    encoded = json.dumps(header).encode()
    out.write(len(encoded).to_bytes(_LENGTH, "big") + encoded)
    if payload:
        out.write(payload)
    out.flush()


def read_frame(fd: int, *, deadline: float, payload_limit: int) -> tuple[dict[str, Any], bytes]:
    """One message from ``fd``, complete before ``deadline`` (``time.monotonic()``)."""
    size = int.from_bytes(_read_exact(fd, _LENGTH, deadline), "big")
    if size > HEADER_LIMIT:
        raise FrameError(f"a header of {size} bytes")
    try:
        header = json.loads(_read_exact(fd, size, deadline))
    except ValueError as exc:
        raise FrameError("a header that is not JSON") from exc
    if not isinstance(header, dict):
        raise FrameError("a header that is not an object")
    length = header.get("payload", 0)
    if not isinstance(length, int) or not 0 <= length <= payload_limit:
        raise FrameError(f"a payload of {length!r} bytes")
    return header, _read_exact(fd, length, deadline) if length else b""


def _read_exact(fd: int, size: int, deadline: float) -> bytes:
    # poll, not select: a busy server's descriptors go past select's FD_SETSIZE
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    data = bytearray()
    while len(data) < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FrameTimeout("no answer before the deadline")
        if not poller.poll(remaining * 1000):
            continue
        block = os.read(fd, min(size - len(data), _READ))
        if not block:
            raise FrameError("the pipe was closed")
        data += block
    return bytes(data)
