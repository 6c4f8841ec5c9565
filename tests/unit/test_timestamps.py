"""The contract's timestamps at the HTTP edge (``api/timestamps.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chunkup.api.timestamps import iso_z, parse_expires
from chunkup.errors import InvalidExpires


@pytest.mark.parametrize("value", [None, "", "   "])
def test_an_absent_or_blank_expires_is_none(value: str | None):
    assert parse_expires(value) is None


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "1e9", "2026-11-30T25:00"])
def test_an_unreadable_expires_is_invalid_expires(value: str):
    with pytest.raises(InvalidExpires):
        parse_expires(value)


def test_an_expires_is_read_as_utc_and_one_without_an_offset_is_utc():
    assert parse_expires(" 2026-11-30T14:00:00+02:00 ") == datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert parse_expires("2026-11-30T14:00:00") == datetime(2026, 11, 30, 14, tzinfo=UTC)


def test_an_expires_past_the_calendar_is_the_latest_or_earliest_time():
    # year 9999 at -14:00 is past year 9999 in UTC; year 1 at +14:00 is before year 1
    assert parse_expires("9999-12-31T23:59:59-14:00") == datetime.max.replace(tzinfo=UTC)
    assert parse_expires("0001-01-01T00:00:00+14:00") == datetime.min.replace(tzinfo=UTC)


def test_iso_z_writes_whole_seconds_in_utc():
    when = datetime(2026, 11, 25, 16, 15, 22, 987654, tzinfo=timezone(timedelta(hours=2)))
    assert iso_z(when) == "2026-11-25T14:15:22Z"
    assert parse_expires(iso_z(when)) == when.replace(microsecond=0)
