"""The generated HS256 secret of a data directory, and the real clock the fakes stand for."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chunkup.auth import TokenVerifier, load_or_create_secret, mint_token
from chunkup.settings import Settings
from chunkup.uploads.clock import utcnow


def test_a_data_dir_without_a_secret_gets_one_kept_private_and_reused(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data")
    secret = load_or_create_secret(settings)
    path = tmp_path / "data" / "jwt-secret"
    assert len(secret) >= 48 and path.read_text() == secret
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(settings) == secret  # a restart keeps its tokens valid
    assert TokenVerifier(settings).verify(mint_token(secret, 5)) == 5


def test_a_configured_secret_wins_over_the_file(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, jwt_secret="configured-secret-configured-secret")
    assert load_or_create_secret(settings) == "configured-secret-configured-secret"
    assert not (tmp_path / "jwt-secret").exists()


def test_a_process_that_loses_the_race_reads_the_winners_secret(tmp_path: Path):
    """Two workers starting on a fresh data dir: the second finds the file created but
    maybe still empty, and waits for the first's secret rather than making its own."""
    path = tmp_path / "jwt-secret"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # the winner, mid-write
    reading = threading.Event()
    found: list[str] = []

    def loser() -> None:
        reading.set()
        found.append(load_or_create_secret(Settings(data_dir=tmp_path)))

    thread = threading.Thread(target=loser)
    thread.start()
    reading.wait(5)
    with os.fdopen(fd, "w") as handle:
        handle.write("the-winners-secret")
    thread.join(5)
    assert found == ["the-winners-secret"]


def test_a_secret_file_that_stays_empty_is_an_error_not_a_new_secret(tmp_path: Path):
    (tmp_path / "jwt-secret").touch()
    with pytest.raises(RuntimeError, match="stays empty"):
        load_or_create_secret(Settings(data_dir=tmp_path))


def test_the_real_clock_is_aware_utc_now():
    before = datetime.now(UTC)
    now = utcnow()
    assert now.tzinfo is not None and now.utcoffset() == UTC.utcoffset(now)
    assert before <= now <= datetime.now(UTC)
