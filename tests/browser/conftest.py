"""Fixtures for the web page: Debian's Chromium driven by Playwright, and servers.

Chromium comes from Debian's ``chromium`` package, which ``make test`` installs
before pytest starts when it is missing (``tests/provision.py``; Playwright's own
browser download cannot work on a closed network). Where it is not installed the
browser tests are skipped, saying why (under ``CI=true`` they fail).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.static_origin import StaticOrigin
from tests.browser.webpage import watched_page
from tests.provision import CHROMIUM, chromium_missing, unprovisioned
from tests.support import LiveServer, settings_for

# without the background-networking flags Chromium's own connections are refused here
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
JS_DIR = Path(__file__).parent / "js"
# the real clients' entry points, bundled for the browser (see js/package.json)
BUNDLES = ("src/uppy.js", "src/uploady.jsx")


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, as ``make test`` provisions it (``tests/provision.py``)."""
    reason = chromium_missing()
    if reason:
        unprovisioned(f"browser tests need Debian's Chromium: {reason}")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (its own localStorage); page errors fail the test."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    errors: list[str] = []
    yield watched_page(context, errors)
    context.close()
    assert not errors, errors


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The service in dev mode on SQLite + local disk (one backend is enough here)."""
    live = LiveServer(settings_for(tmp_path / "data", dev=True)).start()
    yield live
    live.stop()


@pytest.fixture
def static_origin(tmp_path: Path) -> Iterator[StaticOrigin]:
    """The same page served by a plain static file server on another port (origin)."""
    with StaticOrigin(tmp_path / "site") as origin:
        yield origin


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def _npm_ci(directory: Path, package: str) -> None:
    """Install ``directory``'s locked npm packages unless ``package`` is already there."""
    if (directory / "node_modules" / package).is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("the real browser clients need npm")
    subprocess.run(
        [npm, "ci", "--prefix", str(directory), "--no-audit", "--no-fund"],
        check=True,
        capture_output=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def js_packages() -> Path:
    """``tests/browser/js`` with its locked packages (Uppy, react-uploady, axe-core)."""
    _npm_ci(JS_DIR, "esbuild")
    return JS_DIR / "node_modules"


@pytest.fixture(scope="session")
def client_bundles(js_packages: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Uppy's and react-uploady's test pages' scripts (and Uppy's CSS), bundled by esbuild
    from the installed packages: nothing is fetched from a CDN at test time."""
    out = tmp_path_factory.mktemp("bundles")
    subprocess.run(
        [
            str(js_packages / ".bin" / "esbuild"),
            *BUNDLES,
            "--bundle",
            "--minify",
            "--format=iife",
            "--jsx=automatic",
            "--define:process.env.NODE_ENV='production'",
            f"--outdir={out}",
            "--log-level=warning",
        ],
        cwd=JS_DIR,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out
