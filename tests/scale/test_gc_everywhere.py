"""Garbage collection running on every node at once: each upload expired exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from tests.postgres import TemplateDatabase
from tests.seaweed import Seaweed
from tests.support import FakeClock, LiveServer, settings_for, starts_like

UPLOADS = 12


def test_three_collectors_at_once_expire_each_upload_once(
    tmp_path: Path, pg_template: TemplateDatabase, seaweed: Seaweed
):
    clock = FakeClock()
    clock.advance(-timedelta(hours=25))  # the uploads below are a day old by now
    storage_url = seaweed.storage_url(f"gc-{uuid.uuid4().hex}")
    with pg_template.fresh() as database_url:
        settings = settings_for(
            tmp_path / "data",
            database_url=database_url,
            storage_url=storage_url,
            migrate_on_start=False,
        )
        server = LiveServer(settings, clock=clock).start()
        try:
            with server.client() as client:
                ids = []
                for _ in range(UPLOADS):
                    upload_id = client.chunk(starts_like(b"a" * 100), 0, 300).json()["upload_id"]
                    client.chunk(b"b" * 100, 200, 300, upload_id=upload_id)
                    ids.append(upload_id)
                env = {
                    **os.environ,
                    "CHUNKUP_DATABASE_URL": database_url,
                    "CHUNKUP_STORAGE_URL": storage_url,
                    "CHUNKUP_DATA_DIR": str(tmp_path / "gc"),
                    "CHUNKUP_MIGRATE_ON_START": "false",
                }
                collectors = [
                    subprocess.Popen(
                        [sys.executable, "-m", "chunkup", "gc"],
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                    )
                    for _ in range(3)
                ]
                reports = []
                for collector in collectors:
                    out, err = collector.communicate(timeout=120)
                    assert collector.returncode == 0, err.decode()
                    reports.append(json.loads(out))
                statuses = {client.status(upload_id).status_code for upload_id in ids}
            assert sum(r["expired"] for r in reports) == UPLOADS  # none expired twice
            assert statuses == {410}
            assert server.stored_keys("chunks/") == []
        finally:
            server.stop()
