"""tus on the upload state machine, in-process: appends, checksums, cut-off bodies, joins."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator

import pytest

from chunkup.api.tus_headers import parse_checksum, parse_metadata
from chunkup.errors import (
    ChecksumMismatch,
    FinalUploadImmutable,
    InvalidTusHeader,
    OffsetMismatch,
    UploadCompleted,
    UploadTooLarge,
)
from chunkup.models import Kind, MediaType, UploadStatus
from chunkup.uploads.tus_values import BodyInterrupted, Checksum, Concat, TusMetadata
from tests.domain.conftest import Domain
from tests.support import CHUNK, noise_image, starts_like

OWNER = 1
IMAGE = parse_metadata("type aW1hZ2U=")  # Upload-Metadata: type=image
NONE = TusMetadata()


async def body(*blocks: bytes, then: BaseException | None = None) -> AsyncIterator[bytes]:
    """A PATCH body arriving in ``blocks``; ``then`` is raised after the last one."""
    for block in blocks:
        yield block
    if then is not None:
        raise then


def sha256(data: bytes) -> Checksum:
    return Checksum("sha256", hashlib.sha256(data).digest())


async def test_a_patch_larger_than_a_chunk_is_stored_as_chunks_and_completes(domain: Domain):
    data = noise_image(300, 300)
    created = await domain.tus.create(OWNER, len(data), IMAGE, None)
    assert created.upload.kind is Kind.IMAGE and created.offset == 0
    done = await domain.tus.append(OWNER, created.upload.id, 0, body(data))
    assert done.media_id is not None
    info = await domain.tus.info(OWNER, created.upload.id)
    assert info.upload.status is UploadStatus.COMPLETED and info.media_id == done.media_id


async def test_without_a_type_the_upload_waits_for_the_contracts_complete(domain: Domain):
    png = parse_metadata("filetype aW1hZ2UvcG5n")  # filetype=image/png
    created = await domain.tus.create(OWNER, 10, png, None)
    png_head = starts_like(b"0123456789")  # a first PATCH must begin like an image
    done = await domain.tus.append(OWNER, created.upload.id, 0, body(png_head))
    assert done.offset == 10 and done.media_id is None
    assert done.upload.status is UploadStatus.UPLOADING


async def test_an_append_at_the_wrong_offset_names_the_right_one(domain: Domain):
    created = await domain.tus.create(OWNER, 10, NONE, None)
    await domain.tus.append(OWNER, created.upload.id, 0, body(b"01234"))
    with pytest.raises(OffsetMismatch) as refused:
        await domain.tus.append(OWNER, created.upload.id, 3, body(b"34567"))
    assert refused.value.extra == {"offset": "5"}


async def test_more_bytes_than_remain_are_refused(domain: Domain):
    created = await domain.tus.create(OWNER, 10, NONE, None)
    with pytest.raises(UploadTooLarge):
        await domain.tus.append(OWNER, created.upload.id, 0, body(b"x" * 11))
    with pytest.raises(UploadTooLarge):
        await domain.tus.append(OWNER, created.upload.id, 0, body(), declared_length=11)


async def test_a_body_cut_off_keeps_what_arrived(domain: Domain):
    created = await domain.tus.create(OWNER, 2 * CHUNK, NONE, None)
    arrived = b"a" * (CHUNK + 100)
    with pytest.raises(BodyInterrupted):
        await domain.tus.append(OWNER, created.upload.id, 0, body(arrived, then=BodyInterrupted()))
    assert (await domain.tus.info(OWNER, created.upload.id)).offset == CHUNK + 100


async def test_a_checksum_mismatch_keeps_nothing_of_the_patch(domain: Domain):
    created = await domain.tus.create(OWNER, 2 * CHUNK, NONE, None)
    data = b"b" * (CHUNK + 100)
    with pytest.raises(ChecksumMismatch):
        await domain.tus.append(
            OWNER, created.upload.id, 0, body(data), checksum=sha256(b"other bytes")
        )
    assert (await domain.tus.info(OWNER, created.upload.id)).offset == 0
    assert await domain.keys(f"chunks/{created.upload.id}/") == []
    good = await domain.tus.append(OWNER, created.upload.id, 0, body(data), checksum=sha256(data))
    assert good.offset == len(data)


async def test_a_cut_off_body_with_a_checksum_keeps_nothing(domain: Domain):
    created = await domain.tus.create(OWNER, 2 * CHUNK, NONE, None)
    data = b"c" * (CHUNK + 100)
    with pytest.raises(BodyInterrupted):
        await domain.tus.append(
            OWNER,
            created.upload.id,
            0,
            body(data, then=BodyInterrupted()),
            checksum=sha256(data + b"rest"),
        )
    assert (await domain.tus.info(OWNER, created.upload.id)).offset == 0
    assert await domain.keys(f"chunks/{created.upload.id}/") == []


async def test_partials_join_into_a_final_that_completes_without_copying(domain: Domain):
    data = noise_image(200, 200)
    half = len(data) // 2
    parts = []
    for piece in (data[:half], data[half:]):
        part = await domain.tus.create(OWNER, len(piece), NONE, Concat(final=False))
        await domain.tus.append(OWNER, part.upload.id, 0, body(piece))
        parts.append(part.upload.id)
    objects = await domain.keys("chunks/")
    final = await domain.tus.create_final(OWNER, IMAGE, Concat(True, tuple(parts)))
    assert final.offset == len(data) and final.part_ids == parts
    assert await domain.keys("chunks/") == objects  # joined by reference
    done = await domain.tus.complete_final(OWNER, final)
    assert done.media_id is not None
    media = await domain.services.library.get(done.media_id)
    assert media.type is MediaType.IMAGE and media.size == len(data)
    with pytest.raises(UploadCompleted):  # a part is joined once
        await domain.tus.create_final(OWNER, IMAGE, Concat(True, tuple(parts)))


async def test_a_final_takes_no_patch_and_needs_complete_parts(domain: Domain):
    part = await domain.tus.create(OWNER, 10, NONE, Concat(final=False))
    with pytest.raises(InvalidTusHeader):
        await domain.tus.create_final(OWNER, NONE, Concat(True, (part.upload.id,)))
    await domain.tus.append(OWNER, part.upload.id, 0, body(b"0123456789"))
    final = await domain.tus.create_final(OWNER, NONE, Concat(True, (part.upload.id,)))
    with pytest.raises(FinalUploadImmutable):
        await domain.tus.append(OWNER, final.upload.id, 10, body(b"x"))


@pytest.mark.parametrize(
    ("metadata", "kind", "media_type"),
    [
        ("type ZG9j", Kind.DOCUMENT, MediaType.DOC),  # type=doc
        ("type ZWltYWdl", Kind.IMAGE, MediaType.EIMAGE),  # type=eimage
        ("filetype aW1hZ2UvanBlZw==", Kind.IMAGE, None),  # image/jpeg
        ("filetype YXBwbGljYXRpb24vcGRm", Kind.DOCUMENT, None),  # application/pdf
        (None, Kind.DOCUMENT, None),
    ],
)
async def test_the_kind_follows_the_type_then_the_filetype(
    domain: Domain, metadata: str | None, kind: Kind, media_type: MediaType | None
):
    created = await domain.tus.create(OWNER, 10, parse_metadata(metadata), None)
    assert created.upload.kind is kind
    assert (created.record.media_type if created.record else None) == (
        media_type.value if media_type else None
    )


def test_checksum_header_values_are_parsed_strictly():
    digest = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    assert parse_checksum(f"MD5 {digest}") == Checksum("md5", hashlib.md5(b"x").digest())
    for bad in ("md5", f"md5 {digest} extra", "md5 not*base64"):
        with pytest.raises(InvalidTusHeader):
            parse_checksum(bad)
