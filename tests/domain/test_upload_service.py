"""The upload service's rules, checked in-process: ranges, retries, owners, expiry, caps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chunkup.errors import (
    ChunkSizeMismatch,
    ChunkTooLarge,
    FieldMismatch,
    FileTooLarge,
    InvalidContentRange,
    InvalidExpires,
    RangeConflict,
    TooManyUploads,
    TotalMismatch,
    UploadCompleted,
    UploadExpired,
    UploadNotFound,
    UploadQuotaExceeded,
)
from chunkup.models import Kind, UploadStatus
from chunkup.uploads.ranges import ChunkRange
from chunkup.uploads.service import ChunkIn
from tests.domain.conftest import Domain
from tests.support import md5_of, noise_image, starts_like

OWNER, STRANGER = 1, 2


def first(size: int, field: str = "image") -> bytes:
    """A first chunk of ``size`` bytes that begins like the field's kind: one that
    cannot is refused at once (fail fast), before the rule a test checks is reached."""
    return starts_like(b"a" * size, field)


async def test_a_first_chunk_creates_an_upload_that_expires_in_the_ttl(domain: Domain):
    state = await domain.chunk(OWNER, first(100), 0, 300)
    assert state.offset == 100
    assert state.upload.status is UploadStatus.UPLOADING
    assert state.upload.expires_at == domain.clock.now + timedelta(hours=24)
    assert await domain.keys(f"chunks/{state.upload.id}/")


async def test_chunks_out_of_order_advance_the_offset_only_when_contiguous(domain: Domain):
    upload_id = (await domain.chunk(OWNER, first(100), 0, 300)).upload.id
    later = await domain.chunk(OWNER, b"c" * 100, 200, 300, upload_id=upload_id)
    assert later.offset == 100
    assert later.ranges.to_list() == [[0, 99], [200, 299]]
    whole = await domain.chunk(OWNER, b"b" * 100, 100, 300, upload_id=upload_id)
    assert whole.offset == 300


async def test_an_exact_retry_is_a_no_op_and_leaves_no_second_object(domain: Domain):
    upload_id = (await domain.chunk(OWNER, first(100), 0, 300)).upload.id
    await domain.chunk(OWNER, b"b" * 100, 100, 300, upload_id=upload_id)
    stored = await domain.keys(f"chunks/{upload_id}/")
    again = await domain.chunk(OWNER, b"b" * 100, 100, 300, upload_id=upload_id)
    assert again.offset == 200
    assert await domain.keys(f"chunks/{upload_id}/") == stored


@pytest.mark.parametrize(
    ("start", "data"),
    [(100, b"x" * 100), (50, b"b" * 100), (100, b"b" * 50)],
    ids=["other-bytes", "overlap", "shorter"],
)
async def test_an_overlap_that_is_no_exact_retry_is_a_range_conflict_with_the_offset(
    domain: Domain, start: int, data: bytes
):
    upload_id = (await domain.chunk(OWNER, first(100), 0, 300)).upload.id
    await domain.chunk(OWNER, b"b" * 100, 100, 300, upload_id=upload_id)
    stored = await domain.keys(f"chunks/{upload_id}/")
    with pytest.raises(RangeConflict) as refused:
        await domain.chunk(OWNER, data, start, 300, upload_id=upload_id)
    assert refused.value.extra == {"offset": "200"}
    assert await domain.keys(f"chunks/{upload_id}/") == stored


async def test_another_users_upload_is_not_found_for_chunks_status_and_abort(domain: Domain):
    upload_id = (await domain.chunk(OWNER, first(100), 0, 300)).upload.id
    with pytest.raises(UploadNotFound):
        await domain.chunk(STRANGER, b"b" * 100, 100, 300, upload_id=upload_id)
    with pytest.raises(UploadNotFound):
        await domain.services.uploads.status(STRANGER, upload_id)
    with pytest.raises(UploadNotFound):
        await domain.services.uploads.abort(STRANGER, upload_id)
    assert (await domain.services.uploads.status(OWNER, upload_id)).offset == 100


@pytest.mark.parametrize("upload_id", ["", "not-an-id", "0" * 31, "../../etc"])
async def test_ids_that_cannot_be_upload_ids_are_not_found(domain: Domain, upload_id: str):
    with pytest.raises(UploadNotFound):
        await domain.services.uploads.status(OWNER, upload_id)
    with pytest.raises(UploadNotFound):
        await domain.services.uploads.abort(OWNER, upload_id)
    if upload_id:
        with pytest.raises(UploadNotFound):
            await domain.chunk(OWNER, b"b", 1, 3, upload_id=upload_id)


async def test_an_upload_expires_after_the_ttl_not_a_second_before(domain: Domain):
    upload_id = (await domain.chunk(OWNER, first(100), 0, 300)).upload.id
    domain.clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    await domain.chunk(OWNER, b"b" * 100, 100, 300, upload_id=upload_id)
    domain.clock.advance(timedelta(seconds=1))
    with pytest.raises(UploadExpired):
        await domain.chunk(OWNER, b"c" * 100, 200, 300, upload_id=upload_id)
    with pytest.raises(UploadExpired):
        await domain.services.uploads.status(OWNER, upload_id)


async def test_a_shorter_expires_is_honoured_and_a_longer_one_clamped(domain: Domain):
    soon = domain.clock.now + timedelta(hours=1)
    short = await domain.chunk(OWNER, first(10), 0, 30, expires=soon)
    assert short.upload.expires_at == soon
    late = domain.clock.now + timedelta(days=3)
    long = await domain.chunk(OWNER, first(10), 0, 30, expires=late)
    assert long.upload.expires_at == domain.clock.now + timedelta(hours=24)


async def test_a_later_chunk_cannot_extend_expiry_past_the_ttl_from_the_first(domain: Domain):
    created = domain.clock.now
    upload_id = (await domain.chunk(OWNER, first(10), 0, 30)).upload.id
    domain.clock.advance(timedelta(hours=20))
    far = domain.clock.now + timedelta(hours=20)
    state = await domain.chunk(OWNER, b"b" * 10, 10, 30, upload_id=upload_id, expires=far)
    assert state.upload.expires_at == created + timedelta(hours=24)


@pytest.mark.parametrize("ago", [timedelta(0), timedelta(days=1)])
async def test_an_expires_that_is_not_in_the_future_is_invalid(domain: Domain, ago: timedelta):
    with pytest.raises(InvalidExpires):
        await domain.chunk(OWNER, first(10), 0, 30, expires=domain.clock.now - ago)


async def test_the_first_chunk_must_start_at_zero(domain: Domain):
    with pytest.raises(InvalidContentRange):
        await domain.chunk(OWNER, b"a" * 10, 10, 30)


async def test_size_rules_chunk_limit_announced_length_and_kind_limit(domain: Domain):
    settings = domain.services.settings
    with pytest.raises(ChunkTooLarge):
        await domain.chunk(OWNER, b"a" * (settings.chunk_max_bytes + 1), 0, 10**6)
    lying = ChunkIn(Kind.IMAGE, b"a" * 10, ChunkRange(0, 19, 30))
    with pytest.raises(ChunkSizeMismatch):
        await domain.services.uploads.accept_chunk(OWNER, lying)
    with pytest.raises(FileTooLarge):
        await domain.chunk(OWNER, b"a", 0, settings.image_max_bytes + 1)
    # the document limit is larger: the same total is fine as a document
    state = await domain.chunk(
        OWNER, first(1, "document"), 0, settings.image_max_bytes + 1, kind=Kind.DOCUMENT
    )
    assert state.upload.kind is Kind.DOCUMENT


async def test_later_chunks_must_keep_the_total_and_the_field(domain: Domain):
    upload_id = (await domain.chunk(OWNER, first(10), 0, 30)).upload.id
    with pytest.raises(TotalMismatch):
        await domain.chunk(OWNER, b"b" * 10, 10, 40, upload_id=upload_id)
    with pytest.raises(FieldMismatch):
        await domain.chunk(OWNER, b"b" * 10, 10, 30, upload_id=upload_id, kind=Kind.DOCUMENT)
    assert (await domain.services.uploads.status(OWNER, upload_id)).offset == 10


async def test_open_uploads_are_capped_per_user_and_a_refused_one_leaves_nothing(
    domain: Domain,
):
    cap = domain.services.settings.max_open_uploads
    for _ in range(cap):
        await domain.chunk(OWNER, first(1), 0, 2)
    before = await domain.keys("chunks/")
    with pytest.raises(TooManyUploads):
        await domain.chunk(OWNER, first(1), 0, 2)
    assert await domain.keys("chunks/") == before
    await domain.chunk(STRANGER, first(1), 0, 2)  # a cap of the user, not of the node


async def test_open_bytes_are_capped_per_user(domain: Domain):
    settings = domain.services.settings
    settings.max_open_bytes = 100
    await domain.chunk(OWNER, first(1), 0, 60)
    with pytest.raises(UploadQuotaExceeded):
        await domain.chunk(OWNER, first(1), 0, 41)


async def test_abort_removes_the_upload_and_its_objects(domain: Domain):
    upload_id = (await domain.chunk(OWNER, first(100), 0, 300)).upload.id
    await domain.services.uploads.abort(OWNER, upload_id)
    assert await domain.keys(f"chunks/{upload_id}/") == []
    with pytest.raises(UploadNotFound):
        await domain.services.uploads.status(OWNER, upload_id)


async def test_a_completed_upload_takes_no_chunk_and_cannot_be_aborted(domain: Domain):
    data = noise_image(8, 8)
    upload_id = await domain.upload(OWNER, data, filename="p.png")
    await domain.services.completion.complete(OWNER, upload_id, md5_of(data), None)
    with pytest.raises(UploadCompleted):
        await domain.chunk(OWNER, data, 0, len(data), upload_id=upload_id)
    with pytest.raises(UploadCompleted):
        await domain.services.uploads.abort(OWNER, upload_id)
