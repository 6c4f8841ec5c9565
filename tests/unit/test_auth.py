"""Token verification beyond the HS256 default: RS256/ES256 against a public key."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from chunkup.auth import TokenVerifier
from chunkup.errors import Unauthorized
from chunkup.settings import Settings


def claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    return {"iat": now, "exp": now + 60, "jti": "j", **extra}


def pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rs256(tmp_path: Path, key: rsa.RSAPrivateKey) -> TokenVerifier:
    return TokenVerifier(
        Settings(data_dir=tmp_path, jwt_algorithm="RS256", jwt_public_key=pem(key))
    )


def test_rs256_token_with_user_id_is_accepted(tmp_path: Path, rsa_key: rsa.RSAPrivateKey):
    token = jwt.encode(claims(user_id=9, token_type="access"), rsa_key, algorithm="RS256")
    assert rs256(tmp_path, rsa_key).verify(token) == 9


def test_rs256_user_falls_back_to_an_integer_sub(tmp_path: Path, rsa_key: rsa.RSAPrivateKey):
    token = jwt.encode(claims(sub="12"), rsa_key, algorithm="RS256")
    assert rs256(tmp_path, rsa_key).verify(token) == 12


def test_rs256_setup_refuses_an_hs256_token_signed_with_the_public_key(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
):
    # the classic key-confusion attack: the public key used as an HMAC secret
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}')
    payload = jwt.utils.base64url_encode(b'{"user_id":1,"iat":1,"exp":9999999999,"jti":"x"}')
    signing_input = header + b"." + payload
    signature = hmac.new(pem(rsa_key).encode(), signing_input, hashlib.sha256).digest()
    token = (signing_input + b"." + jwt.utils.base64url_encode(signature)).decode()
    with pytest.raises(Unauthorized):
        rs256(tmp_path, rsa_key).verify(token)


def test_es256_token_is_accepted(tmp_path: Path):
    key = ec.generate_private_key(ec.SECP256R1())
    verifier = TokenVerifier(
        Settings(data_dir=tmp_path, jwt_algorithm="ES256", jwt_public_key=pem(key))
    )
    assert verifier.verify(jwt.encode(claims(user_id=5), key, algorithm="ES256")) == 5


def test_a_non_integer_subject_is_refused(tmp_path: Path, rsa_key: rsa.RSAPrivateKey):
    token = jwt.encode(claims(sub="alice"), rsa_key, algorithm="RS256")
    with pytest.raises(Unauthorized):
        rs256(tmp_path, rsa_key).verify(token)


def test_rs256_needs_a_key_or_jwks_url(tmp_path: Path):
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, jwt_algorithm="RS256")
