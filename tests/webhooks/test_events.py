"""The events a server sends: what they carry, and that receivers can verify them."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tests.support import LiveServer, md5_of, noise_image, settings_for, starts_like
from tests.webhooks.conftest import WEBHOOK_SECRET, webhook_settings
from tests.webhooks.receiver import Receiver


def test_media_created_carries_the_media_as_the_api_returns_it_signed_per_standard_webhooks(
    webhook_server: LiveServer, receiver: Receiver
):
    with webhook_server.client(7) as client:
        image = noise_image(700, 500)  # wide enough for renditions (320 and 640 px)
        created = client.upload(image, filename="cat.png")
        assert created.status_code == 201, created.text
        shown = client.http.get(f"/api/v2/media/{created.json()['id']}/").json()

    receiver.wait_for(lambda r: len(r.accepted()) == 1)
    delivery = receiver.accepted()[0]
    # the standardwebhooks package's own verifier accepts the headers and body as sent
    event = Webhook(WEBHOOK_SECRET).verify(delivery.body, delivery.headers)
    assert delivery.headers["webhook-id"].startswith("msg_")
    assert delivery.headers["content-type"] == "application/json"
    assert event["type"] == "media.created"
    assert event["data"]["user_id"] == 7
    # the API's Media (file URLs on CHUNKUP_PUBLIC_URL, where the API puts them too)
    assert shown["image"].startswith("https://media.example.com/media/")
    assert [r["width"] for r in shown["image_renditions"]] == [320, 640]
    assert event["data"]["media"] == shown


def test_a_tampered_body_fails_verification(webhook_server: LiveServer, receiver: Receiver):
    from standardwebhooks.webhooks import WebhookVerificationError

    with webhook_server.client(1) as client:
        assert client.upload(noise_image(20, 20)).status_code == 201
    receiver.wait_for(lambda r: len(r.accepted()) == 1)
    delivery = receiver.accepted()[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(WEBHOOK_SECRET).verify(
            delivery.body.replace(b'"user_id":1', b'"user_id":2'), delivery.headers
        )


def test_media_deleted_follows_media_created_with_its_own_webhook_id(
    webhook_server: LiveServer, receiver: Receiver
):
    with webhook_server.client(3) as client:
        media = client.upload(noise_image(20, 20)).json()
        assert client.http.delete(f"/api/v2/media/{media['id']}/").status_code == 204

    receiver.wait_for(lambda r: len(r.accepted()) == 2)
    events = {d.event["type"]: d for d in receiver.accepted()}
    assert set(events) == {"media.created", "media.deleted"}
    deleted = Webhook(WEBHOOK_SECRET).verify(
        events["media.deleted"].body, events["media.deleted"].headers
    )
    assert deleted["data"]["media"]["id"] == media["id"] and deleted["data"]["user_id"] == 3
    assert events["media.created"].webhook_id != events["media.deleted"].webhook_id


def test_a_refused_delete_sends_nothing(webhook_server: LiveServer, receiver: Receiver):
    with webhook_server.client(3) as owner, webhook_server.client(4) as other:
        media = owner.upload(noise_image(20, 20)).json()
        assert other.http.delete(f"/api/v2/media/{media['id']}/").status_code == 403
        owner.http.delete(f"/api/v2/media/{media['id']}/")  # the owner's: the second event
    receiver.wait_for(lambda r: len(r.accepted()) == 2)
    # one event each (concurrent deliveries: in no particular order)
    assert sorted(d.event["type"] for d in receiver.accepted()) == [
        "media.created",
        "media.deleted",
    ]


def test_an_upload_that_expires_is_announced_once(tmp_path: Path, receiver: Receiver):
    settings = settings_for(tmp_path / "data", **webhook_settings(receiver), gc_interval="PT0.05S")
    server = LiveServer(settings).start()
    try:
        with server.client(5) as client:
            first = client.chunk(
                starts_like(b"x" * 100, "document"), 0, 300, filename="late.pdf", field="document"
            )
            upload_id = first.json()["upload_id"]
        server.clock.advance(settings.upload_ttl + timedelta(seconds=1))
        receiver.wait_for(lambda r: len(r.accepted()) >= 1)
    finally:
        server.stop()
    (delivery,) = receiver.accepted()
    event = Webhook(WEBHOOK_SECRET).verify(delivery.body, delivery.headers)
    assert event["type"] == "upload.expired"
    assert event["data"] | {"created_at": None, "expires_at": None} == {
        "upload_id": upload_id,
        "user_id": 5,
        "kind": "document",
        "size": 300,
        "received": 100,
        "filename": "late.pdf",
        "created_at": None,
        "expires_at": None,
    }


def test_only_the_event_types_asked_for_are_sent(tmp_path: Path, receiver: Receiver):
    settings = settings_for(
        tmp_path / "data", **webhook_settings(receiver, webhook_events="media.deleted")
    )
    server = LiveServer(settings).start()
    try:
        with server.client(1) as client:
            media = client.upload(noise_image(20, 20)).json()
            client.http.delete(f"/api/v2/media/{media['id']}/")
        receiver.wait_for(lambda r: len(r.accepted()) >= 1)
    finally:
        server.stop()
    assert [d.event["type"] for d in receiver.accepted()] == ["media.deleted"]


def test_every_configured_url_gets_the_event_under_the_same_webhook_id(tmp_path: Path):
    first, second = Receiver().start(), Receiver().start()
    settings = settings_for(
        tmp_path / "data",
        **webhook_settings(first, webhook_urls=f"{first.url},{second.url}"),
    )
    server = LiveServer(settings).start()
    try:
        with server.client(1) as client:
            image = noise_image(20, 20)
            upload_id = client.upload_chunks(image)
            assert client.complete(upload_id, md5_of(image)).status_code == 201
        for receiver in (first, second):
            receiver.wait_for(lambda r: len(r.accepted()) == 1)
    finally:
        server.stop()
        first.stop()
        second.stop()
    assert first.accepted()[0].webhook_id == second.accepted()[0].webhook_id
    assert first.accepted()[0].body == second.accepted()[0].body


def test_a_receiver_that_does_not_answer_holds_up_no_upload(tmp_path: Path):
    gate = threading.Event()
    stuck = Receiver(gate=gate).start()
    settings = settings_for(tmp_path / "data", **webhook_settings(stuck, webhook_timeout=60.0))
    server = LiveServer(settings).start()
    try:
        with server.client(1) as client:
            assert client.upload(noise_image(20, 20)).status_code == 201
            stuck.wait_for(lambda r: r.in_flight() == 1)  # its delivery hangs
            # meanwhile uploads and completions go on, without waiting for it
            for _ in range(3):
                assert client.upload(noise_image(20, 20)).status_code == 201
            assert stuck.in_flight() >= 1 and not stuck.deliveries
        gate.set()
        stuck.wait_for(lambda r: len(r.accepted()) == 4)
    finally:
        gate.set()
        server.stop()
        stuck.stop()


def test_the_webhook_secret_reaches_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from chunkup.settings import Settings

    settings = settings_for(tmp_path, webhook_urls="http://a.test/h", webhook_secret=WEBHOOK_SECRET)
    environment = settings.as_environment()  # what `serve --workers N` hands its workers
    assert environment["CHUNKUP_WEBHOOK_SECRET"] == WEBHOOK_SECRET
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    again = Settings()
    assert again.webhook_url_list == ["http://a.test/h"]
    assert again.webhook_secret is not None
    assert again.webhook_secret.get_secret_value() == WEBHOOK_SECRET


def test_a_tus_upload_that_completes_itself_announces_its_media(
    webhook_server: LiveServer, receiver: Receiver
):
    from tests.tus.conftest import Tus, metadata

    image = noise_image(30, 30)
    tus = Tus(webhook_server, user_id=8)
    with tus.http:
        created = tus.create(
            len(image), body=image, **{"Upload-Metadata": metadata(filename="t.png", type="image")}
        )
    assert created.status_code == 201, created.text
    receiver.wait_for(lambda r: len(r.accepted()) == 1)
    event = Webhook(WEBHOOK_SECRET).verify(
        receiver.accepted()[0].body, receiver.accepted()[0].headers
    )
    assert event["type"] == "media.created"
    assert event["data"]["user_id"] == 8
    assert str(event["data"]["media"]["id"]) == created.headers["Media-Id"]
