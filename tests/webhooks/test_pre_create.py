"""The pre-create hook: the application allows or refuses an upload before it exists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.support import (
    CHUNK,
    LiveServer,
    assert_error,
    md5_of,
    noise_image,
    settings_for,
    starts_like,
)
from tests.tus.conftest import Tus, metadata
from tests.webhooks.conftest import WEBHOOK_SECRET
from tests.webhooks.receiver import Delivery, Receiver


def refuse_big_files(delivery: Delivery, _attempt: int) -> tuple[int, str]:
    """The application's rule: nothing over 100 kB, and no .exe by name."""
    data = delivery.event["data"]
    if data["size"] > 100_000:
        return 422, json.dumps({"detail": "Files over 100 kB are not accepted here."})
    if (data["filename"] or "").endswith(".exe"):
        return 403, "no executables"
    return 200, "{}"


@pytest.fixture
def application() -> Iterator[Receiver]:
    running = Receiver(answer=refuse_big_files).start()
    yield running
    running.stop()


def hooked_server(tmp_path: Path, url: str, **overrides: Any) -> LiveServer:
    values = {"hook_pre_create_url": url, "webhook_secret": WEBHOOK_SECRET, "hook_timeout": 2.0}
    settings = settings_for(tmp_path / "data", **(values | overrides))
    return LiveServer(settings).start()


@pytest.fixture
def server(tmp_path: Path, application: Receiver) -> Iterator[LiveServer]:
    live = hooked_server(tmp_path, application.url)
    yield live
    live.stop()


def test_an_allowed_upload_is_asked_about_once_with_user_kind_size_and_name(
    server: LiveServer, application: Receiver
):
    image = noise_image(90, 90)  # about 24 kB: three chunks of 10 kB
    with server.client(9) as client:
        upload_id = client.upload_chunks(image, filename="holiday.png", chunk_size=10_000)
        assert client.complete(upload_id, md5_of(image)).status_code == 201

    (asked,) = application.deliveries  # the first chunk only, never per chunk
    event = Webhook(WEBHOOK_SECRET).verify(asked.body, asked.headers)
    assert event["type"] == "upload.pre_create"
    assert event["data"] == {
        "user_id": 9,
        "kind": "image",
        "size": len(image),
        "filename": "holiday.png",
        "protocol": "chunk",
    }


def test_a_refused_first_chunk_is_403_upload_refused_with_the_applications_message(
    server: LiveServer,
):
    total = 3 * CHUNK
    with server.client(1) as client:
        response = client.chunk(starts_like(b"x" * CHUNK), 0, total, filename="big.png")
    body = assert_error(response, 403, "upload_refused")
    assert body["detail"] == "Files over 100 kB are not accepted here."
    # nothing of it was stored: no object under chunks/, no upload to resume
    assert server.stored_keys("chunks/") == []


def test_a_plain_text_refusal_is_the_detail(server: LiveServer):
    with server.client(1) as client:
        response = client.chunk(starts_like(b"MZ" * 50), 0, 100, filename="setup.exe")
    assert assert_error(response, 403, "upload_refused")["detail"] == "no executables"


def test_tus_creation_is_asked_and_refused_before_the_upload_exists(
    server: LiveServer, application: Receiver
):
    tus = Tus(server, user_id=2)
    with tus.http:
        refused = tus.create(
            200_000,
            body=b"x" * 1000,  # creation-with-upload: these bytes must not be stored either
            **{"Upload-Metadata": metadata(filename="big.pdf", filetype="application/pdf")},
        )
        allowed = tus.create(500, **{"Upload-Metadata": metadata(filename="small.pdf")})
    assert_error(refused, 403, "upload_refused")
    assert allowed.status_code == 201, allowed.text
    assert [d.event["data"]["protocol"] for d in application.deliveries] == ["tus", "tus"]
    assert application.deliveries[0].event["data"]["kind"] == "document"
    assert server.stored_keys("chunks/") == []


@pytest.mark.parametrize(
    ("failure", "status"), [("refuse", 403), ("allow", 201)], ids=["refuse", "allow"]
)
def test_a_hook_that_fails_refuses_or_allows_as_configured(
    tmp_path: Path, failure: str, status: int
):
    def broken(_delivery: Delivery, _attempt: int) -> tuple[int, str]:
        return 500, "oops"

    application = Receiver(answer=broken).start()
    server = hooked_server(tmp_path, application.url, hook_failure=failure)
    try:
        with server.client(1) as client:
            response = client.chunk(starts_like(b"x" * 100), 0, 100)
    finally:
        server.stop()
        application.stop()
    assert response.status_code == status, response.text
    if status == 403:
        assert_error(response, 403, "upload_refused")


def test_a_hook_that_does_not_answer_in_time_counts_as_a_failure(tmp_path: Path):
    slow = Receiver(hold=3.0).start()  # longer than hook_timeout below
    server = hooked_server(tmp_path, slow.url, hook_timeout=0.3, hook_failure="refuse")
    try:
        with server.client(1) as client:
            response = client.chunk(starts_like(b"x" * 100), 0, 100)
    finally:
        server.stop()
        slow.stop()
    assert_error(response, 403, "upload_refused")


def test_an_unreachable_hook_with_failure_allow_lets_uploads_through(tmp_path: Path):
    down = Receiver()  # never started: its port refuses connections
    server = hooked_server(tmp_path, down.url, hook_failure="allow")
    try:
        with server.client(1) as client:
            response = client.chunk(starts_like(b"x" * 100), 0, 100)
    finally:
        server.stop()
    assert response.status_code == 201, response.text
