"""Fixtures: a recording receiver, servers that send it their events, and a migrated
database for the outbox's rules in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from chunkup.db import Database
from tests.support import LiveServer, settings_for
from tests.webhooks.receiver import Receiver

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def webhook_settings(receiver: Receiver, **overrides: Any) -> dict[str, Any]:
    """Settings that send every event to ``receiver``, retrying quickly."""
    values: dict[str, Any] = {
        "webhook_urls": receiver.url,
        "webhook_secret": WEBHOOK_SECRET,
        "webhook_poll_interval": 0.05,
        "webhook_retry_base": "PT0.05S",
        "webhook_retry_max": "PT0.2S",
        "webhook_timeout": 2.0,
        "public_url": "https://media.example.com",
    }
    values.update(overrides)
    return values


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def webhook_server(
    tmp_path: Path, receiver: Receiver, backend: dict[str, str]
) -> Iterator[LiveServer]:
    """A server on each backend combination (``backend``), sending to ``receiver``."""
    settings = settings_for(tmp_path / "data", **(webhook_settings(receiver) | backend))
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(settings_for(tmp_path).resolved_database_url)
    await database.migrate()
    yield database
    await database.dispose()
