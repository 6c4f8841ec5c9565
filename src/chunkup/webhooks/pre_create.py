"""The pre-create hook: the application allows or refuses an upload before it exists.

Asked once per upload, when it would be created (the first chunk of the chunk
protocol, or tus creation), before any byte of it is stored: the answer holds
for the whole upload, so no chunk after the first waits for it. A 2xx allows;
a 4xx refuses, with the receiver's message as the ``detail`` of
``403 upload_refused``; anything else (a 3xx or 5xx, no answer within
``hook_timeout``, no connection) is a failure, which ``hook_failure`` turns
into an allow or a refusal. The request is a Standard Webhooks message
(``upload.pre_create``), signed when a webhook secret is configured.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Protocol

import httpx

from chunkup.errors import UploadRefused
from chunkup.models import Kind
from chunkup.settings import Settings
from chunkup.webhooks.events import Clock
from chunkup.webhooks.signing import Signer, new_message_id

log = logging.getLogger(__name__)
PRE_CREATE = "upload.pre_create"
MAX_MESSAGE = 500  # characters of the receiver's refusal passed on to the client


class PreCreate(Protocol):
    async def check(
        self, *, user_id: int, kind: Kind, size: int, filename: str | None, protocol: str
    ) -> None:
        """Return if the upload may be created; raise ``UploadRefused`` if not."""


class PreCreateHook:
    def __init__(
        self,
        url: str,
        settings: Settings,
        clock: Clock,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.timeout = settings.hook_timeout
        self.allow_on_failure = settings.hook_failure == "allow"
        self.clock = clock
        secret = settings.webhook_secret
        self.signer = Signer.from_secret(secret.get_secret_value()) if secret else None
        self.http = httpx.AsyncClient(
            transport=transport, timeout=self.timeout, follow_redirects=False
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def check(
        self, *, user_id: int, kind: Kind, size: int, filename: str | None, protocol: str
    ) -> None:
        now = self.clock()
        body = json.dumps(
            {
                "type": PRE_CREATE,
                "timestamp": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "data": {
                    "user_id": user_id,
                    "kind": kind.value,
                    "size": size,
                    "filename": filename,
                    "protocol": protocol,
                },
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        headers = {"Content-Type": "application/json"}
        if self.signer is not None:
            # the wall clock: the receiver checks the timestamp against its own
            headers |= self.signer.headers(new_message_id(), datetime.now(UTC), body)
        try:
            status, text = await self._post(body, headers)
        except TimeoutError:
            self._failed(f"no answer within {self.timeout}s")
            return
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return
        if 200 <= status < 300:
            return
        if 400 <= status < 500:
            raise UploadRefused(_message(text))
        self._failed(f"HTTP {status}")

    async def _post(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        """The status and the first bytes of the answer (a refusal's message)."""
        async with asyncio.timeout(self.timeout):
            async with self.http.stream(
                "POST", self.url, content=body.encode(), headers=headers
            ) as response:
                head = bytearray()
                async for block in response.aiter_bytes():
                    head += block
                    if len(head) >= 4 * MAX_MESSAGE:
                        break
                return response.status_code, head.decode("utf-8", "replace")

    def _failed(self, reason: str) -> None:
        if self.allow_on_failure:
            log.warning("pre-create hook failed (%s); allowing the upload", reason)
            return
        log.warning("pre-create hook failed (%s); refusing the upload", reason)
        raise UploadRefused("The upload could not be checked by the application; retry later.")


def _message(text: str) -> str | None:
    """The receiver's refusal: ``detail`` or ``message`` of a JSON object, else the text."""
    text = text.strip()
    try:
        parsed = json.loads(text) if text.startswith("{") else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for name in ("detail", "message", "error"):
            value = parsed.get(name)
            if isinstance(value, str) and value.strip():
                text = value.strip()
                break
    return text[:MAX_MESSAGE] or None
