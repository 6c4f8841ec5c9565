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
# the contract's default limits, as the static file states them for a page served elsewhere
IMAGE_MAX = 'data-image-max="5242880"'
DOCUMENT_MAX = 'data-document-max="52428800"'


@cache
def _index_template() -> str:
    return resources.files("chunkup.web").joinpath("static", "index.html").read_text("utf-8")


def index_html(*, dev: bool, image_max: int = 5242880, document_max: int = 52428800) -> str:
    """The page's HTML; in dev mode it is told so, and shows the dev-token button.

    It is also told this server's size limits, so that it refuses a file that
    is too large before sending any of it.
    """
    html = _index_template()
    html = html.replace(IMAGE_MAX, f'data-image-max="{image_max}"', 1)
    html = html.replace(DOCUMENT_MAX, f'data-document-max="{document_max}"', 1)
    return html.replace(DEV_FLAG, 'data-dev="true"', 1) if dev else html
