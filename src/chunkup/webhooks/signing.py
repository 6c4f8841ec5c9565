"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``.

The secret is ``whsec_`` followed by the base64 of the key bytes, as every
Standard Webhooks library takes it, so a receiver verifies with its own
library and the same string. (The tests check these signatures with the
``standardwebhooks`` package's verifier.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

PREFIX = "whsec_"


def parse_secret(secret: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret; ValueError if it is not one."""
    if not secret.startswith(PREFIX):
        raise ValueError("a webhook secret starts with 'whsec_' (whsec_<base64 of 24-64 bytes>)")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the webhook secret after 'whsec_' is not base64") from exc
    if len(key) < 16:
        raise ValueError("the webhook secret must hold at least 16 bytes")
    return key


def new_secret() -> str:
    """A fresh secret to configure (``whsec_`` + 32 random bytes)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_message_id() -> str:
    """A ``webhook-id``: unique per event, the same on every retry of it."""
    return "msg_" + secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class Signer:
    key: bytes

    @classmethod
    def from_secret(cls, secret: str) -> Signer:
        return cls(parse_secret(secret))

    def headers(self, message_id: str, at: datetime, body: str) -> dict[str, str]:
        """The three ``webhook-*`` headers of one attempt to send ``body``."""
        timestamp = str(int(at.timestamp()))
        signed = f"{message_id}.{timestamp}.{body}".encode()
        digest = hmac.new(self.key, signed, hashlib.sha256).digest()
        return {
            "webhook-id": message_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        }
