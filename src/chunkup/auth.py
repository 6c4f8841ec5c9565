"""Bearer tokens: the SelfCommunity JWT scheme, verified with PyJWT.

HS256 with a shared secret by default (``alg: none`` and every other algorithm
refused); RS256/ES256 against a public key or a JWKS URL for operators with an
identity provider. The secret is generated into the data directory on first
start, so a fresh install works and ``chunkup token`` can mint for it.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import jwt

from chunkup.errors import Unauthorized
from chunkup.settings import Settings

MAX_TOKEN_LENGTH = 8192
# user ids are stored as signed 64-bit integers (BIGINT)
MAX_USER_ID = (1 << 63) - 1
REQUIRED_CLAIMS = ["exp", "iat", "jti"]
VERIFIED_CACHE = 10_000


def load_or_create_secret(settings: Settings) -> str:
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    path = settings.data_dir / "jwt-secret"
    try:
        # an empty file is another process's secret still being written: wait for it
        return path.read_text().strip() or _wait_for(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # create-only: a second process starting at the same time reads the winner's
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _wait_for(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def _wait_for(path: Path) -> str:
    for _ in range(50):
        text = path.read_text().strip()
        if text:
            return text
        time.sleep(0.02)
    raise RuntimeError(f"{path} exists but stays empty")


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.algorithm = settings.jwt_algorithm
        self._verified: dict[str, tuple[int, float]] = {}
        self._jwks: jwt.PyJWKClient | None = None
        self._key: str | None
        if self.algorithm == "HS256":
            self._key = load_or_create_secret(settings)
            # the usual cause: `chunkup token` run with another data directory, whose
            # generated secret this server never saw (no path given: clients read this)
            self._foreign_signature = (
                "The token's signature does not match this server's secret: it was signed "
                "with another one. `chunkup token` must use the server's data directory "
                "(--data-dir) or its CHUNKUP_JWT_SECRET."
            )
        else:
            self._foreign_signature = "The token's signature does not match the server's key."
            self._key = settings.jwt_public_key
            if settings.jwks_url:
                self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True)

    @property
    def blocking(self) -> bool:
        """Whether verifying may fetch keys over the network (run it off the loop)."""
        return self._jwks is not None

    def verify(self, token: str) -> int:
        """The user id the token was issued for; ``Unauthorized`` for anything else.

        A client sends the same token with every chunk, so a verified token is
        remembered until it expires: the signature is checked once, not per chunk.
        """
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthorized("Invalid token.")
        remembered = self._verified.get(token)
        if remembered is not None:
            user_id, expires = remembered
            if time.time() < expires:
                return user_id
            del self._verified[token]
        user_id, expires = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (user_id, expires)
        return user_id

    def _verify(self, token: str) -> tuple[int, float]:
        try:
            key = self._signing_key(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthorized(self._foreign_signature) from exc
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as exc:
            # OverflowError: an ``exp`` or ``iat`` too large for a float
            raise Unauthorized("Invalid token.") from exc
        if claims.get("token_type", "access" if self.algorithm != "HS256" else None) != "access":
            raise Unauthorized("Not an access token.")
        user_id = claims.get("user_id")
        if user_id is None and self.algorithm != "HS256":
            user_id = _int_or_none(claims.get("sub"))
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise Unauthorized("The token carries no integer user_id.")
        if not 0 <= user_id <= MAX_USER_ID:
            raise Unauthorized("The token's user_id is out of range.")
        return user_id, _expiry(claims["exp"])

    def _signing_key(self, token: str) -> Any:  # a secret, a PEM or a JWK's key object
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key
        return self._key


def _expiry(exp: object) -> float:
    """``exp`` (PyJWT checked it is a number in the future) as a float; one past a
    float's range is refused rather than an OverflowError out of the request."""
    try:
        return float(exp)  # type: ignore[arg-type]
    except (OverflowError, TypeError, ValueError) as exc:
        raise Unauthorized("Invalid token.") from exc


def _int_or_none(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # ASCII digits only, and few enough for int() (it refuses 4300+ digits)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    return None


def mint_token(secret: str, user_id: int, *, ttl_seconds: int = 3600) -> str:
    now = int(time.time())
    claims = {
        "token_type": "access",
        "user_id": user_id,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
