"""The systemd unit in deploy/ is one systemd accepts, with what a media service needs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "chunkup.service"
INSTALLED_AT = "/opt/chunkup/bin/chunkup"


def settings_of(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_unit_restarts_kills_the_group_and_runs_unprivileged():
    unit = settings_of(UNIT.read_text())
    assert unit["ExecStart"] == [f"{INSTALLED_AT} serve"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["KillMode"] == ["mixed"]  # SIGTERM to the supervisor, then the whole group
    assert unit["User"] == ["chunkup"] and unit["NoNewPrivileges"] == ["true"]
    assert unit["StateDirectory"] == ["chunkup"]  # the data directory
    assert unit["Environment"].count("CHUNKUP_DATA_DIR=/var/lib/chunkup") == 1
    assert unit["EnvironmentFile"] == ["-/etc/chunkup/chunkup.env"]  # secrets
    assert {"LimitNOFILE", "MemoryMax", "TasksMax"} <= unit.keys()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_verifies_the_unit(tmp_path: Path):
    # verify checks that ExecStart exists: point it at this checkout's command
    chunkup = Path(sys.executable).parent / "chunkup"
    unit = tmp_path / "chunkup.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED_AT, str(chunkup)))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "chunkup.service" not in done.stderr, done.stderr  # no warning about the unit
