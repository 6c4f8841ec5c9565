"""Parsing tus header values: metadata, checksums, concatenation, numbers, kinds."""

from __future__ import annotations

import base64

import pytest

from chunkup.api.tus_headers import parse_checksum, parse_concat, parse_metadata, parse_number
from chunkup.errors import (
    ChecksumAlgorithmUnsupported,
    InvalidTusHeader,
    InvalidType,
    UploadNotFound,
)
from chunkup.models import Kind, MediaType
from chunkup.uploads.kinds import kind_of
from chunkup.uploads.tus_values import Concat, TusMetadata


def test_metadata_pairs_decode_and_a_key_may_have_no_value():
    value = "filename " + base64.b64encode("résumé.pdf".encode()).decode() + ",is_confidential"
    assert parse_metadata(value).pairs == {"filename": "résumé.pdf", "is_confidential": None}
    assert parse_metadata(f" {value} ").raw == value  # kept as sent, for HEAD to echo
    assert parse_metadata(None) == parse_metadata("  ") == TusMetadata()


@pytest.mark.parametrize(
    "value", ["a b c", "a !!!", "a YQ==,a YQ==", " YQ==", "k/ey YQ==", "x " + "YQ" * 5000]
)
def test_malformed_metadata_is_invalid(value: str):
    with pytest.raises(InvalidTusHeader):
        parse_metadata(value)


def test_checksum_parses_known_algorithms_only():
    checksum = parse_checksum("SHA1 " + base64.b64encode(b"\x01" * 20).decode())
    assert checksum is not None and checksum.algorithm == "sha1"
    assert checksum.digest == b"\x01" * 20
    assert parse_checksum(None) is None
    with pytest.raises(ChecksumAlgorithmUnsupported):
        parse_checksum("crc32 AAAA")
    with pytest.raises(InvalidTusHeader):
        parse_checksum("md5 not-base64!")
    with pytest.raises(InvalidTusHeader):
        parse_checksum("md5")


def test_concat_partial_and_final_with_absolute_or_relative_urls():
    a, b = "a" * 32, "b" * 32
    assert parse_concat("partial") == Concat(final=False)
    final = parse_concat(f"final;https://x/api/v2/media/tus/{a} /api/v2/media/tus/{b}/")
    assert final == Concat(final=True, part_ids=(a, b))
    assert parse_concat(None) is None
    for bad in ("sideways", "final;", f"final;/tus/{a} /tus/{a}"):
        with pytest.raises(InvalidTusHeader):
            parse_concat(bad)
    with pytest.raises(UploadNotFound):
        parse_concat("final;/tus/nothing")


@pytest.mark.parametrize("value", ["-1", "1.5", "", "0x10", "9" * 19])
def test_numbers_are_plain_non_negative_integers(value: str):
    with pytest.raises(InvalidTusHeader):
        parse_number(value, "Upload-Offset")


def test_kind_follows_type_then_filetype():
    assert kind_of({"type": "eimage"}) == (Kind.IMAGE, MediaType.EIMAGE)
    assert kind_of({"type": "doc", "filetype": "image/png"}) == (Kind.DOCUMENT, MediaType.DOC)
    assert kind_of({"filetype": "image/webp"}) == (Kind.IMAGE, None)
    assert kind_of({"filetype": "application/pdf"}) == (Kind.DOCUMENT, None)
    assert kind_of({}) == (Kind.DOCUMENT, None)


def test_a_mime_type_in_type_names_the_media_type_as_uppy_sends_it():
    assert kind_of({"type": "image/jpeg"}) == (Kind.IMAGE, MediaType.IMAGE)
    assert kind_of({"type": "IMAGE/PNG", "filetype": "image/png"}) == (Kind.IMAGE, MediaType.IMAGE)
    assert kind_of({"type": "application/pdf"}) == (Kind.DOCUMENT, MediaType.DOC)
    assert kind_of({"type": "text/plain"}) == (Kind.DOCUMENT, MediaType.DOC)
    with pytest.raises(InvalidType):
        kind_of({"type": "video"})
