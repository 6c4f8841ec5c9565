"""Delivering the outbox: at least once, by any node, one attempt in flight per row.

Every node runs ``Deliverer.run_forever`` in its app's lifespan. A round
claims the due rows it has room for (``webhook_concurrency``) with a lease of
``lease`` (longer than one attempt may take), posts them concurrently, and
records each outcome under its claim. A node that dies mid-attempt leaves its
claims to run out; another node then takes the rows over, so an event may
arrive twice (receivers de-duplicate on ``webhook-id``) but never is lost, and
never is in flight twice at once while a lease holds.

A failed attempt (no 2xx, an error, the timeout) is retried after an
exponential backoff with jitter, ``webhook_retry_base`` doubled per attempt up
to ``webhook_retry_max``, each delay drawn in [half, whole]; once
``webhook_retry_horizon`` has passed since the event, the row is ``failed``
and waits for ``chunkup webhooks retry``.

Nothing here runs on a request's path: an upload only writes the row.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx

from chunkup.db import Database, outbox
from chunkup.settings import Settings
from chunkup.webhooks.events import Clock
from chunkup.webhooks.signing import Signer

log = logging.getLogger(__name__)
USER_AGENT = "chunkup-webhooks"
PRUNE_EVERY = timedelta(minutes=10)


def retry_delay(
    attempts: int, base: timedelta, ceiling: timedelta, rand: Callable[[], float]
) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: exponential, capped, jittered."""
    exponent = min(max(attempts - 1, 0), 40)
    full = min(base * (1 << exponent), ceiling)
    return full * (0.5 + rand() / 2)


def lease_for(timeout: float) -> timedelta:
    """How long a claim holds: well past the longest attempt (its timeout)."""
    return timedelta(seconds=2 * timeout + 5)


class Deliverer:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        assert settings.webhook_secret is not None  # checked with the settings
        self.db = db
        self.settings = settings
        self.clock = clock
        self.rand = rand
        self.signer = Signer.from_secret(settings.webhook_secret.get_secret_value())
        self.lease = lease_for(settings.webhook_timeout)
        self.http = httpx.AsyncClient(
            transport=transport,
            timeout=settings.webhook_timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=settings.webhook_concurrency),
            headers={"User-Agent": USER_AGENT},
        )
        self._pruned_at: datetime | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    async def run_forever(self) -> None:
        """Deliver due rows, round after round; look again every poll interval when idle."""
        interval = self.settings.webhook_poll_interval
        while True:
            try:
                claimed = await self.deliver_due()
                await self._prune()
            except Exception:  # the loop must outlive one bad round; the error is logged
                log.exception("webhook delivery round failed; retrying in %ss", interval)
                claimed = 0
            if not claimed:
                await asyncio.sleep(interval)

    async def deliver_due(self) -> int:
        """One round: claim what is due (up to the concurrency), deliver it; how many."""
        now = self.clock()
        claim = secrets.token_hex(16)
        rows = await self.db.write(
            partial(
                outbox.claim_due,
                now=now,
                until=now + self.lease,
                claim=claim,
                limit=self.settings.webhook_concurrency,
            )
        )
        outcomes = await asyncio.gather(
            *(self._deliver(row) for row in rows), return_exceptions=True
        )
        for row, outcome in zip(rows, outcomes, strict=True):
            if isinstance(outcome, Exception):  # its claim runs out, and it is tried again
                log.warning("webhook %s: outcome not recorded: %r", row.event_id, outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
        return len(rows)

    async def _deliver(self, row: outbox.OutboxRow) -> None:
        assert row.claim is not None
        error = await self._attempt(row)
        now = self.clock()
        if error is None:
            await self.db.write(
                partial(outbox.mark_delivered, row_id=row.id, claim=row.claim, at=now)
            )
            return
        retry_at = None
        if now < row.give_up_at:
            retry_at = now + retry_delay(
                row.attempts,
                self.settings.webhook_retry_base,
                self.settings.webhook_retry_max,
                self.rand,
            )
        else:
            log.warning(
                "webhook %s to %s failed for good after %d attempts: %s",
                row.event_id,
                row.url,
                row.attempts,
                error,
            )
        await self.db.write(
            partial(
                outbox.mark_attempt_failed,
                row_id=row.id,
                claim=row.claim,
                error=error,
                retry_at=retry_at,
            )
        )

    async def _attempt(self, row: outbox.OutboxRow) -> str | None:
        """Post the row's body once; None on a 2xx, else what went wrong."""
        # the wall clock, not the service's: receivers check it against theirs (replays)
        headers = self.signer.headers(row.event_id, datetime.now(UTC), row.payload)
        headers["Content-Type"] = "application/json"
        try:
            async with asyncio.timeout(self.settings.webhook_timeout):
                # streamed, and the answer's body never read: only its status counts
                async with self.http.stream(
                    "POST", row.url, content=row.payload.encode(), headers=headers
                ) as response:
                    status = response.status_code
        except TimeoutError:
            return f"no answer within {self.settings.webhook_timeout}s"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= status < 300:
            return None
        return f"HTTP {status}"

    async def _prune(self) -> None:
        """Now and then, forget rows delivered longer ago than ``expired_retention``."""
        now = self.clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        before = now - self.settings.expired_retention
        await self.db.write(partial(outbox.forget_delivered, before=before))
