"""Webhook secrets and signatures, in-process: what an operator configures and what a
receiver's own Standard Webhooks library must accept (``webhooks/signing.py``)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from chunkup.webhooks.signing import PREFIX, Signer, new_message_id, new_secret
from tests.support import settings_for


def test_a_new_secret_signs_what_the_standard_webhooks_verifier_accepts() -> None:
    secret = new_secret()
    body = json.dumps({"type": "media.created", "data": {"id": 1}})
    message_id = new_message_id()

    headers = Signer.from_secret(secret).headers(message_id, datetime.now(UTC), body)

    assert secret.startswith(PREFIX) and len(base64.b64decode(secret[len(PREFIX) :])) == 32
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    assert headers["webhook-id"] == message_id
    # another secret's receiver refuses it
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_every_new_secret_and_message_id_is_different() -> None:
    assert len({new_secret() for _ in range(50)}) == 50
    ids = {new_message_id() for _ in range(50)}
    assert len(ids) == 50 and all(i.startswith("msg_") and len(i) == 36 for i in ids)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "starts with 'whsec_'"),
        ("whsec_not base64!", "is not base64"),
        ("whsec_" + base64.b64encode(b"x" * 15).decode(), "at least 16 bytes"),
    ],
    ids=["no prefix", "not base64", "15 bytes"],
)
def test_a_server_configured_with_a_bad_secret_refuses_to_start_saying_why(
    tmp_path: Path, secret: str, reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        settings_for(tmp_path, webhook_urls="http://receiver.test/hooks", webhook_secret=secret)


def test_a_secret_of_16_bytes_is_enough() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 16).decode()
    assert Signer.from_secret(secret).key == b"k" * 16
