"""The web page: a browser client of the media API, served by the same process.

The page is plain JavaScript under ``static/`` (no build step) and talks to the
API like any other client, so it also works from another origin. This package
only hands its files to the HTTP layer (``chunkup.api.routes.web``); the dev
token minting lives in ``dev.py``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

STATIC_PACKAGE = ("chunkup.web", "static")
DEV_FLAG = 'data-dev="false"'


@cache
def _index_template() -> str:
    return resources.files("chunkup.web").joinpath("static", "index.html").read_text("utf-8")


def index_html(*, dev: bool) -> str:
    """The page's HTML; in dev mode it is told so, and shows the dev-token button."""
    template = _index_template()
    return template.replace(DEV_FLAG, 'data-dev="true"', 1) if dev else template
