"""A token minted with another data directory's secret: the CLI warns, the server says why.

`make run ARGS="--data-dir /srv/chunkup"` and then a plain `chunkup token` sign
with two different generated secrets; the refusal must point at that.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chunkup.auth import TokenVerifier, load_or_create_secret, mint_token
from chunkup.errors import Unauthorized
from chunkup.settings import Settings


def chunkup_token(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CHUNKUP_JWT_SECRET"}
    return subprocess.run(
        [sys.executable, "-m", "chunkup", "token", "--user", "1", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_minting_in_a_data_dir_no_server_used_warns_on_stderr(tmp_path: Path):
    first = chunkup_token(tmp_path / "elsewhere")
    again = chunkup_token(tmp_path / "elsewhere")

    assert first.returncode == 0 and first.stdout.count(".") == 2  # a JWT on stdout
    assert "no secret in" in first.stderr and "same data directory" in first.stderr
    assert again.returncode == 0 and again.stderr == ""


def test_a_token_signed_with_another_secret_is_refused_with_the_reason(tmp_path: Path):
    server = Settings(data_dir=tmp_path / "server", jwt_secret=None)
    other = Settings(data_dir=tmp_path / "elsewhere", jwt_secret=None)
    verifier = TokenVerifier(server)

    with pytest.raises(Unauthorized) as refused:
        verifier.verify(mint_token(load_or_create_secret(other), 1))

    assert refused.value.code == "invalid_token"
    assert "does not match this server's secret" in refused.value.detail
    assert "--data-dir" in refused.value.detail
    assert str(tmp_path) not in refused.value.detail  # no server path to clients
    assert verifier.verify(mint_token(load_or_create_secret(server), 1)) == 1
