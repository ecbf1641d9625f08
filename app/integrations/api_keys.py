"""API keys: a credential for an integration, acting for its organization with its role.

The secret is ``prl_`` and 43 characters of ``secrets.token_urlsafe(32)`` (256 bits). It is
shown once and stored as its SHA-256: with that much entropy nobody can guess a secret from
its hash, so a slow password hash (argon2) would add nothing but its cost to every request
(tens of milliseconds of CPU each). The hash is unique, so a key is found by one indexed
lookup. That lookup runs on every request: revocation (``revoked_at``, and the membership
removed) takes effect on the very next request, in every process, with no cache to forget.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis

from app.integrations.service_users import create_service_member, remove_service_member
from app.models.accounts import AuditEvent, Membership, Role
from app.models.integrations import ApiKey
from app.platform import clock
from app.platform.security import new_opaque_token, revoked_jti_key

PREFIX = "prl_"
SHOWN_CHARACTERS = 8  # of the secret after `prl_`, in lists
# lastUsedAt is written at most once per key per this many seconds (a Redis SET NX decides).
LAST_USED_RESOLUTION_SECONDS = 60


def is_api_key(token: str) -> bool:
    return token.startswith(PREFIX)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_jti(api_key_id: int) -> str:
    """The token id an API key's requests and subscriptions carry (revoked with the key)."""
    return f"api-key-{api_key_id}"


@dataclass(frozen=True, slots=True)
class NewApiKey:
    api_key: ApiKey
    secret: str


async def create_api_key(
    *,
    organization_id: int,
    created_by_id: int | None,
    name: str,
    role: Role,
    expires_at: datetime | None,
    ip: str = "",
) -> NewApiKey:
    if role is Role.OWNER:
        raise ValueError("an API key is never OWNER")
    secret = PREFIX + new_opaque_token(32)
    user = await create_service_member(organization_id, f"API key: {name}", role)
    api_key = await ApiKey.create(
        organization_id=organization_id,
        user_id=user.id,
        created_by_id=created_by_id,
        name=name,
        prefix=secret[: len(PREFIX) + SHOWN_CHARACTERS],
        secret_hash=hash_secret(secret),
        role=role,
        expires_at=expires_at,
    )
    await AuditEvent.create(
        kind="api_key_created",
        organization_id=organization_id,
        actor_id=created_by_id,
        subject_user_id=user.id,
        ip=ip,
        data={"api_key_id": api_key.id, "prefix": api_key.prefix, "role": role.value},
    )
    return NewApiKey(api_key, secret)


async def revoke_api_key(
    redis: aioredis.Redis, api_key: ApiKey, *, actor_id: int | None, ip: str = ""
) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = clock.now()
        await api_key.save(update_fields=["revoked_at", "updated_at"])
        await remove_service_member(api_key.user_id)
        # Open WebSocket subscriptions of the key end on their next event or check.
        await redis.set(revoked_jti_key(key_jti(api_key.id)), "1")
        await AuditEvent.create(
            kind="api_key_revoked",
            organization_id=api_key.organization_id,
            actor_id=actor_id,
            subject_user_id=api_key.user_id,
            ip=ip,
            data={"api_key_id": api_key.id, "prefix": api_key.prefix},
        )
    return api_key


@dataclass(frozen=True, slots=True)
class KeyHolder:
    api_key: ApiKey
    membership: Membership


class ApiKeyRefused(Exception):
    pass


async def authenticate(redis: aioredis.Redis, secret: str, *, ip: str = "") -> KeyHolder:
    """The key and its membership, or :class:`ApiKeyRefused` (unknown, revoked, expired)."""
    api_key = await ApiKey.get_or_none(secret_hash=hash_secret(secret))
    if api_key is None:
        raise ApiKeyRefused("unknown")
    if api_key.revoked_at is not None:
        await AuditEvent.create(
            kind="api_key_used_after_revoke",
            organization_id=api_key.organization_id,
            subject_user_id=api_key.user_id,
            ip=ip,
            data={"api_key_id": api_key.id, "prefix": api_key.prefix},
        )
        raise ApiKeyRefused("revoked")
    if api_key.expires_at is not None and api_key.expires_at <= clock.now():
        raise ApiKeyRefused("expired")
    membership = await Membership.get_or_none(
        user_id=api_key.user_id, organization_id=api_key.organization_id
    ).select_related("organization", "user")
    if membership is None:
        raise ApiKeyRefused("revoked")
    await _touch(redis, api_key)
    return KeyHolder(api_key, membership)


async def _touch(redis: aioredis.Redis, api_key: ApiKey) -> None:
    """Records lastUsedAt without a write per request: the first request of each minute."""
    marker = f"api-key:used:{api_key.id}"
    if await redis.set(marker, "1", nx=True, ex=LAST_USED_RESOLUTION_SECONDS):
        api_key.last_used_at = clock.now()
        await ApiKey.filter(id=api_key.id).update(last_used_at=api_key.last_used_at)
