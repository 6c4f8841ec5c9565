"""Timestamps as the contract writes them: ISO 8601 in, ``...Z`` out.

The domain works with aware UTC datetimes only; reading a client's text and
writing a response's text happen here, at the HTTP edge.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chunkup.errors import InvalidExpires


def parse_expires(value: str | None) -> datetime | None:
    """The ``expires`` field as an aware UTC datetime, or None when it is absent or blank.

    Whether it is in the past is the upload service's call (its clock). A time
    past year 9999 once in UTC is the latest datetime (the service clamps it to
    its maximum); one before year 1 is the earliest (in the past).
    """
    if value is None or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidExpires() from exc
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:
        return (datetime.max if when.year > 1 else datetime.min).replace(tzinfo=UTC)


def iso_z(when: datetime) -> str:
    """``2026-11-25T14:15:22Z``: UTC, whole seconds."""
    # isoformat, not strftime: this runs for every chunk's answer, at a third of the cost
    return when.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"
