"""Access tokens (JWT via joserfc) and secrets at rest.

Access tokens are short-lived HS256 JWTs with ``sub`` (user id), ``org``, ``jti``, ``iat``,
``exp``, issuer and audience. Decoding accepts only the configured algorithm: ``alg: none`` and
any other algorithm are rejected before the signature is even looked at.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from app.platform import clock
from app.platform.config import Settings

ISSUER = "parley"
AUDIENCE = "parley-api"


class InvalidAccessToken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    organization_id: int | None
    jti: str
    expires_at: int
    session_id: int | None


def issue_access_token(
    settings: Settings,
    *,
    user_id: int,
    organization_id: int | None,
    session_id: int | None = None,
    ttl_seconds: int | None = None,
) -> tuple[str, AccessClaims]:
    now = int(clock.timestamp())
    ttl = ttl_seconds if ttl_seconds is not None else settings.access_token_ttl_seconds
    claims = AccessClaims(
        user_id=user_id,
        organization_id=organization_id,
        jti=uuid.uuid4().hex,
        expires_at=now + ttl,
        session_id=session_id,
    )
    payload: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "jti": claims.jti,
        "iat": now,
        "exp": claims.expires_at,
    }
    if organization_id is not None:
        payload["org"] = str(organization_id)
    if session_id is not None:
        payload["sid"] = str(session_id)
    token = jwt.encode(
        {"alg": settings.jwt_algorithm, "typ": "JWT"},
        payload,
        OctKey.import_key(_signing_key(settings)),
        algorithms=[settings.jwt_algorithm],
        default_type=None,  # the header as above, in that order
    )
    return token, claims


_LEEWAY_SECONDS = 5
_CLAIMS = jwt.JWTClaimsRegistry(
    leeway=_LEEWAY_SECONDS,
    iss={"essential": True, "value": ISSUER},
    aud={"essential": True, "value": AUDIENCE},
    sub={"essential": True},
    jti={"essential": True},
    exp={"essential": True},
    iat={"essential": True},
)


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    claims = _decode_access_token(token, settings.jwt_algorithm, _signing_key(settings))
    # A token decoded earlier is taken from the cache below: its expiry is checked again.
    if claims.expires_at + _LEEWAY_SECONDS < clock.timestamp():
        raise InvalidAccessToken("ExpiredTokenError")
    return claims


# Each request decodes its token twice (the request limit, then authentication), at ~150 µs
# a decode. The same token string always carries the same signed claims, so decoded tokens
# are remembered, bounded; a token that fails to decode is never cached. Revocation is not
# part of decoding (a Redis check on every request).
@functools.lru_cache(maxsize=4096)
def _decode_access_token(token: str, algorithm: str, key: bytes) -> AccessClaims:
    try:
        # Only `algorithm` is accepted: `alg: none` or any other is refused before the
        # signature is checked.
        claims = jwt.decode(token, OctKey.import_key(key), algorithms=[algorithm]).claims
        _CLAIMS.validate(claims)
        return AccessClaims(
            user_id=int(claims["sub"]),
            organization_id=int(claims["org"]) if claims.get("org") else None,
            jti=str(claims["jti"]),
            expires_at=int(claims["exp"]),
            session_id=int(claims["sid"]) if claims.get("sid") else None,
        )
    except (JoseError, ValueError, KeyError, TypeError) as error:
        raise InvalidAccessToken(type(error).__name__) from None


def _signing_key(settings: Settings) -> bytes:
    return hashlib.sha256(b"parley-jwt:" + settings.secret_key.get_secret_value().encode()).digest()


SECRET_KEY_FILE = "secret_key"


def install_secret_key(var_dir: Path) -> str:
    """This install's development key: made once (random, readable by its owner only) under
    ``var_dir`` and read back by every later start."""
    path = var_dir / SECRET_KEY_FILE
    var_dir.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if len(key) < 32:
            raise ValueError(f"{path} holds no usable key; delete it to make a new one") from None
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


def _fernet(settings: Settings) -> Fernet:
    key = hashlib.sha256(b"parley-at-rest:" + settings.secret_key.get_secret_value().encode())
    return Fernet(base64.urlsafe_b64encode(key.digest()))


def encrypt_secret(settings: Settings, plaintext: str) -> str:
    return _fernet(settings).encrypt(plaintext.encode()).decode()


def decrypt_secret(settings: Settings, ciphertext: str) -> str:
    try:
        return _fernet(settings).decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise ValueError("the secret cannot be decrypted with the configured key") from None


def new_opaque_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """Opaque tokens (refresh, reset, invitation) are stored only as this hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, *, email: str, issuer: str = "Parley") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def totp_step(secret: str, code: str) -> int | None:
    """The time step whose code ``code`` is, or ``None`` when it is no code of now.

    One step of drift either way covers clocks that are a little off. The caller refuses a step
    it has accepted before, so a code works once even within its window.
    """
    totp = pyotp.TOTP(secret)
    code = code.strip().replace(" ", "")
    current = totp.timecode(clock.now())
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_code() -> str:
    raw = secrets.token_hex(5)
    return f"{raw[:5]}-{raw[5:]}"


def normalize_recovery_code(code: str) -> str:
    return code.strip().lower().replace(" ", "")


def revoked_jti_key(jti: str) -> str:
    return f"auth:revoked-jti:{jti}"


def revoked_session_key(session_id: int) -> str:
    """Set when a session is revoked, for as long as its access tokens could still be valid."""
    return f"auth:revoked-session:{session_id}"
