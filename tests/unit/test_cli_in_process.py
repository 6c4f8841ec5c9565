"""The operator commands run in-process (typer's runner), where coverage sees them; the
end-to-end runs as real processes are in tests/test_cli.py."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from chunkup.api.observability import JsonFormatter
from chunkup.auth import TokenVerifier
from chunkup.cli import app
from chunkup.settings import Settings

runner = CliRunner()


def test_token_mints_a_token_the_data_dirs_server_accepts_for_its_lifetime(tmp_path: Path):
    result = runner.invoke(
        app, ["token", "--user", "42", "--ttl", "30m", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert TokenVerifier(Settings(data_dir=tmp_path)).verify(token) == 42
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 1800


@pytest.mark.parametrize("ttl", ["soon", "", "1y"])
def test_token_refuses_a_lifetime_it_cannot_read(tmp_path: Path, ttl: str):
    result = runner.invoke(app, ["token", "--user", "1", "--ttl", ttl, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "30m" in result.output


def test_migrate_then_gc_on_an_empty_data_dir_reports_nothing_to_do(tmp_path: Path):
    migrated = runner.invoke(app, ["migrate", "--data-dir", str(tmp_path)])
    assert migrated.exit_code == 0, migrated.output
    collected = runner.invoke(app, ["gc", "--data-dir", str(tmp_path), "--orphan-grace", "2h"])
    assert collected.exit_code == 0, collected.output
    report = json.loads(collected.stdout)
    assert report == dict.fromkeys(report, 0) and "expired" in report


def test_serve_help_names_its_options():
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--data-dir", "--workers", "--database-url", "--storage-url"):
        assert option in result.output


def test_settings_survive_the_trip_to_worker_processes(tmp_path: Path):
    """``--workers 2`` hands the settings to its workers as CHUNKUP_* variables."""
    settings = Settings(
        data_dir=tmp_path,
        jwt_secret="a-secret-of-enough-length-a-secret",
        upload_ttl=timedelta(hours=2),
        cors_origins=["https://a.example"],
    )
    environment = settings.as_environment()
    assert environment["CHUNKUP_DATA_DIR"] == str(tmp_path.resolve())
    assert environment["CHUNKUP_JWT_SECRET"] == "a-secret-of-enough-length-a-secret"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        again = Settings()
    assert again.model_dump() == settings.model_dump()


def test_log_lines_are_one_json_object_with_the_request_id():
    record = logging.LogRecord("chunkup.x", logging.WARNING, __file__, 1, "odd: %s", ("x",), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "warning" and line["message"] == "odd: x"
    assert line["logger"] == "chunkup.x" and "request_id" in line and line["time"].endswith("Z")
