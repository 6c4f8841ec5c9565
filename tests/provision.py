"""Provision what some tests need beyond the venv, once, before pytest starts.

``make test`` runs ``python -m tests.provision`` first: it installs the locked npm
packages of the Node clients (``npm ci --prefix tests/node``, and
``tests/browser/js`` when it has a lock file) and Debian's Chromium when
``/usr/bin/chromium`` is missing. Fixtures never install anything: they check
with the functions below and skip, saying what is missing and how to get it,
or, under ``CI=true``, fail, since CI must run every test.

Each step is skipped when already done (an npm install is stamped with its lock
file's hash), so a warm run costs well under a second.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
NODE_PROJECTS = [TESTS / "node", TESTS / "browser" / "js"]
CHROMIUM = Path("/usr/bin/chromium")
STAMP = ".chunkup-provisioned"
HOW = "run `make test` (or `python -m tests.provision`) to provision it"


def unprovisioned(reason: str) -> None:
    """Skip the test for ``reason``, or fail it under CI, where nothing may be skipped."""
    message = f"{reason}: {HOW}"
    if _under_ci():
        pytest.fail(f"not provisioned under CI: {message}", pytrace=False)
    pytest.skip(message)


def _lock_hash(project: Path) -> str:
    return hashlib.sha256((project / "package-lock.json").read_bytes()).hexdigest()


def node_packages_missing(project: Path) -> str | None:
    """Why ``project``'s locked npm packages are not installed as locked, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    stamp = project / "node_modules" / STAMP
    if not stamp.is_file() or stamp.read_text().strip() != _lock_hash(project):
        return f"the npm packages of {project.relative_to(TESTS.parent)} are not installed"
    return None


def chromium_missing() -> str | None:
    return None if CHROMIUM.exists() else f"Debian's Chromium ({CHROMIUM}) is not installed"


def _npm_ci(project: Path) -> None:
    if node_packages_missing(project) is None:
        return
    npm = shutil.which("npm")
    if npm is None:
        print(f"provision: no npm, {project.name}'s Node tests will be skipped", file=sys.stderr)
        return
    print(f"provision: npm ci --prefix {project}", file=sys.stderr)
    subprocess.run(
        [npm, "ci", "--prefix", str(project), "--no-audit", "--no-fund"],
        check=True,
        timeout=600,
    )
    (project / "node_modules" / STAMP).write_text(_lock_hash(project) + "\n")


def _install_chromium() -> None:
    if chromium_missing() is None:
        return
    if shutil.which("apt-get") is None:
        print("provision: no apt-get, the browser tests will be skipped", file=sys.stderr)
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("provision: apt-get install chromium", file=sys.stderr)
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "chromium", "chromium-driver"],
    ):
        subprocess.run(command, env=env, check=True, timeout=900)


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def main() -> int:
    """0 when everything is provisioned or could only be skipped; 1 when a step failed
    under CI (locally the tests that need it are skipped, saying why)."""
    projects = [p for p in NODE_PROJECTS if (p / "package-lock.json").is_file()]
    steps: list[Callable[[], None]] = [*(partial(_npm_ci, p) for p in projects), _install_chromium]
    failed = False
    for step in steps:
        try:
            step()
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"provision: {exc}", file=sys.stderr)
            failed = True
    return 1 if failed and _under_ci() else 0


if __name__ == "__main__":
    sys.exit(main())
