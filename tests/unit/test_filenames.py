"""Client file names: shown back sanitized, never used as paths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chunkup.uploads.filenames import MAX_NAME, sanitize_filename, storage_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\doc.pdf", "doc.pdf"),
        ("bad\x00name\x1f.png", "badname.png"),
        ("CON.png", "_CON.png"),
        ("lpt1", "_lpt1"),
        ("..", None),
        ("", None),
        (None, None),
        ("Résumé.pdf", "Résumé.pdf"),
    ],
)
def test_sanitize_filename(raw: str | None, expected: str | None):
    assert sanitize_filename(raw) == expected


def test_long_names_are_cut_keeping_the_extension():
    name = sanitize_filename("a" * 4096 + ".pdf")
    assert name is not None and len(name) <= MAX_NAME and name.endswith(".pdf")


def test_undecodable_bytes_do_not_break_the_name():
    raw = b"caf\xe9.png".decode("utf-8", "surrogateescape")
    name = sanitize_filename(raw)
    assert name is not None and name.endswith(".png")
    name.encode("utf-8")  # storable


@given(st.text(max_size=300))
def test_storage_names_are_plain_ascii_file_names(raw: str):
    name = storage_name(sanitize_filename(raw), ".png")
    assert name.endswith(".png")
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert name.isascii() and len(name) <= 90
