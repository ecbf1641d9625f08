"""Listing and revoking sessions, and logging out."""

from __future__ import annotations

from app.models.accounts import RefreshToken, Session
from app.platform import clock
from app.platform.clock import now
from app.platform.context import Info
from app.platform.errors import NotFound
from app.platform.ids import decode_id
from app.platform.security import hash_token, revoked_jti_key
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.accounts.common import revoke_all_sessions, revoke_sessions


async def active_sessions(user_id: int) -> list[Session]:
    return list(
        await Session.filter(user_id=user_id, revoked_at=None, expires_at__gt=now()).order_by("-id")
    )


async def logout(info: Info, refresh_token: str | None, all_sessions: bool) -> int:
    viewer = info.context.viewer
    assert viewer is not None
    claims = viewer.claims
    ttl = max(1, claims.expires_at - int(clock.timestamp()))
    await info.context.runtime.redis.set(revoked_jti_key(claims.jti), "1", ex=ttl)
    if all_sessions:
        return await revoke_all_sessions(info, viewer.user.id, "logout_all")
    sessions: list[Session] = []
    if claims.session_id is not None:
        sessions += await Session.filter(id=claims.session_id, user_id=viewer.user.id)
    if refresh_token:
        token = await RefreshToken.get_or_none(token_hash=hash_token(refresh_token)).select_related(
            "session"
        )
        if token is not None and token.session.user_id == viewer.user.id:
            sessions.append(token.session)
    return await revoke_sessions(info, sessions, "logout")


async def revoke_session(
    info: Info, session_global_id: str
) -> tuple[Session | None, list[UserError]]:
    viewer = info.context.viewer
    assert viewer is not None
    session_id = decode_id(session_global_id, "Session", field=("input", "sessionId"))
    session = await Session.get_or_none(id=session_id, user_id=viewer.user.id)
    if session is None:
        raise NotFound("No such session.")
    if session.revoked_at is not None:
        return None, [
            user_error("sessionId", "The session is already revoked.", UserErrorCode.CONFLICT)
        ]
    await revoke_sessions(info, [session], "revoked")
    return session, []
