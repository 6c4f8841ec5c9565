"""A second origin: the page's static files under a plain HTTP server, no chunkup.

The page finds its API through ``?api=<origin>``, so loading it from here makes
every API call cross-origin, which is what a page hosted elsewhere does.
"""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from tests.support import free_port


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class StaticOrigin:
    def __init__(self, root: Path) -> None:
        static = Path(str(resources.files("chunkup.web").joinpath("static")))
        root.mkdir(parents=True)
        self.root = root  # more pages may be put here (the real clients' test pages)
        shutil.copy(static / "index.html", root / "index.html")
        shutil.copytree(static, root / "web")  # the page loads /web/app.js and friends
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> StaticOrigin:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)
