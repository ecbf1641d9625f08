"""Helpers shared by the accounts resolvers: request facts, audit events, token pairs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.models.accounts import AuditEvent, Membership, RefreshToken, Session, User
from app.platform import clock
from app.platform.context import Info
from app.platform.security import (
    hash_token,
    issue_access_token,
    new_opaque_token,
    revoked_session_key,
)
from app.platform.user_errors import UserError, UserErrorCode, user_error

INVALID_CREDENTIALS = "Invalid email or password."


def client_ip(info: Info) -> str:
    client = info.context.request.client
    return client.host if client else ""


def user_agent(info: Info) -> str:
    return (info.context.request.headers.get("user-agent") or "")[:400]


def invalid_credentials() -> list[UserError]:
    return [user_error(None, INVALID_CREDENTIALS, UserErrorCode.INVALID)]


async def audit(
    info: Info,
    kind: str,
    *,
    actor_id: int | None = None,
    organization_id: int | None = None,
    subject_user_id: int | None = None,
    **data: Any,
) -> None:
    await AuditEvent.create(
        kind=kind,
        actor_id=actor_id,
        organization_id=organization_id,
        subject_user_id=subject_user_id,
        ip=client_ip(info),
        data=data,
    )


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class SecondFactor:
    """Proof that ``user_id`` passed the second factor in this request, or needs none.

    Only ``signin.second_factor`` makes one; ``start_session`` asks for it, so no path can
    issue a session to an MFA account without its code.
    """

    user_id: int


async def start_session(
    info: Info, user: User, proof: SecondFactor, organization_id: int | None = None
) -> TokenPair:
    """A new session (refresh token family) for ``user`` and its first token pair."""
    if proof.user_id != user.id:
        raise ValueError("a second factor of another user")
    if organization_id is None:
        first = await Membership.filter(user_id=user.id).order_by("id").first()
        organization_id = first.organization_id if first else None
    settings = info.context.settings
    session = await Session.create(
        user_id=user.id,
        organization_id=organization_id,
        ip=client_ip(info),
        user_agent=user_agent(info),
        last_used_at=clock.now(),
        expires_at=clock.now() + timedelta(seconds=settings.refresh_token_ttl_seconds),
    )
    return await next_pair(info, session)


async def next_pair(info: Info, session: Session) -> TokenPair:
    refresh = new_opaque_token()
    await RefreshToken.create(session_id=session.id, token_hash=hash_token(refresh))
    settings = info.context.settings
    access, claims = issue_access_token(
        settings,
        user_id=session.user_id,
        organization_id=session.organization_id,
        session_id=session.id,
    )
    return TokenPair(access, refresh, claims.expires_at - int(clock.now().timestamp()))


async def revoke_sessions(info: Info, sessions: list[Session], reason: str) -> int:
    """Revoke sessions and, through Redis, every access token they issued that is still valid.

    Returns how many were still active: a session named twice, or already revoked, counts once
    or not at all.
    """
    if not sessions:
        return 0
    ids = sorted({session.id for session in sessions})
    revoked = await Session.filter(id__in=ids, revoked_at=None).update(
        revoked_at=clock.now(), revoked_reason=reason
    )
    ttl = info.context.settings.access_token_ttl_seconds + 60
    redis = info.context.runtime.redis
    async with redis.pipeline(transaction=False) as pipe:
        for session_id in ids:
            pipe.set(revoked_session_key(session_id), "1", ex=ttl)
        await pipe.execute()
    return revoked


async def revoke_all_sessions(info: Info, user_id: int, reason: str) -> int:
    sessions = await Session.filter(user_id=user_id, revoked_at=None)
    return await revoke_sessions(info, list(sessions), reason)
