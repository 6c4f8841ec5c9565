"""Garbage collection in-process: expiry, forgetting, orphans, abandoned files, tus parts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chunkup.db import queries as q
from chunkup.errors import UploadExpired, UploadNotFound
from chunkup.uploads.gc import ORPHAN_GRACE
from chunkup.uploads.tus_values import Concat, TusMetadata
from tests.domain.conftest import Domain
from tests.domain.test_tus import body
from tests.support import md5_of, noise_image, starts_like

OWNER = 1
TTL = timedelta(hours=24)


async def test_nothing_is_collected_before_its_time(domain: Domain):
    upload_id = (await domain.chunk(OWNER, starts_like(b"a" * 10), 0, 30)).upload.id
    domain.clock.advance(TTL - timedelta(seconds=1))
    report = await domain.services.gc.collect()
    assert (report.expired, report.objects_removed) == (0, 0)
    assert await domain.keys(f"chunks/{upload_id}/")


async def test_an_expired_upload_loses_its_objects_answers_410_then_is_forgotten(
    domain: Domain,
):
    upload_id = (await domain.chunk(OWNER, starts_like(b"a" * 10), 0, 30)).upload.id
    domain.clock.advance(TTL + timedelta(seconds=1))
    report = await domain.services.gc.collect()
    assert (report.expired, report.objects_removed) == (1, 1)
    assert await domain.keys(f"chunks/{upload_id}/") == []
    with pytest.raises(UploadExpired):
        await domain.services.uploads.status(OWNER, upload_id)
    assert (await domain.services.gc.collect()).expired == 0  # once
    domain.clock.advance(domain.services.settings.expired_retention)
    assert (await domain.services.gc.collect()).forgotten == 1
    with pytest.raises(UploadNotFound):
        await domain.services.uploads.status(OWNER, upload_id)


async def test_a_completed_upload_is_forgotten_but_its_media_stays(domain: Domain):
    data = noise_image(16, 16)
    upload_id = await domain.upload(OWNER, data)
    media = await domain.services.completion.complete(OWNER, upload_id, md5_of(data), None)
    domain.clock.advance(domain.services.settings.expired_retention + timedelta(seconds=1))
    report = await domain.services.gc.collect()
    assert (report.forgotten, report.expired) == (1, 0)
    assert (await domain.services.library.get(media.id)).file_key == media.file_key
    assert (await domain.services.storage.stat(media.file_key)).size == media.size


async def test_objects_of_no_upload_are_removed_after_the_grace_only(domain: Domain):
    orphan = "f" * 32
    await domain.services.storage.put(f"chunks/{orphan}/0-9", b"0123456789")
    live = (await domain.chunk(OWNER, starts_like(b"a" * 10), 0, 30)).upload.id
    assert (await domain.services.gc.collect()).orphan_uploads == 0  # may be in flight
    # the objects' times are the wall clock's, seconds past the fake clock's start on a busy host
    domain.clock.advance(ORPHAN_GRACE + timedelta(minutes=1))
    report = await domain.services.gc.collect()
    assert report.orphan_uploads == 1
    assert await domain.keys(f"chunks/{orphan}/") == []
    assert await domain.keys(f"chunks/{live}/")


async def test_the_file_of_a_completion_that_died_is_removed_after_the_grace(domain: Domain):
    token = "a" * 32
    await domain.services.storage.put(f"media/{token}/photo.png", b"half a file")
    await domain.services.db.write(
        lambda conn: q.add_pending_file(conn, token, "b" * 32, domain.clock.now)
    )
    domain.clock.advance(ORPHAN_GRACE + timedelta(seconds=1))
    report = await domain.services.gc.collect()
    assert report.abandoned_files == 1
    assert await domain.keys(f"media/{token}/") == []


async def test_the_parts_of_a_live_tus_final_keep_their_objects(domain: Domain):
    part = await domain.tus.create(OWNER, 10, TusMetadata(), Concat(final=False))
    await domain.tus.append(OWNER, part.upload.id, 0, body(b"0123456789"))
    final = await domain.tus.create_final(OWNER, TusMetadata(), Concat(True, (part.upload.id,)))
    domain.clock.advance(ORPHAN_GRACE + timedelta(seconds=1))
    await domain.services.gc.collect()
    assert await domain.keys(f"chunks/{part.upload.id}/")
    assert (await domain.tus.info(OWNER, final.upload.id)).offset == 10
