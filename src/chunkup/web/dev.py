"""Dev tokens: ``chunkup serve --dev`` lets the web page get a token with one click.

Only for trying the service on a laptop: anyone who can reach the server gets a
token for ``DEV_USER_ID``, so the route exists only when ``settings.dev`` is set.
The token is an ordinary access token, minted as ``chunkup token`` mints one.
"""

from __future__ import annotations

from chunkup.auth import load_or_create_secret, mint_token
from chunkup.settings import Settings

DEV_USER_ID = 1
DEV_TOKEN_TTL_SECONDS = 24 * 3600


class DevTokens:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._secret: str | None = None

    def mint(self) -> str:
        """A token for the dev user (blocking: the secret may be read from the data dir)."""
        if self._secret is None:
            self._secret = load_or_create_secret(self._settings)
        return mint_token(self._secret, DEV_USER_ID, ttl_seconds=DEV_TOKEN_TTL_SECONDS)
