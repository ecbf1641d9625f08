"""Who is calling: the bearer token of a request or of a WebSocket's ``connection_init``."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from app.integrations import api_keys
from app.models.accounts import Membership, User
from app.platform.cache import viewer_key
from app.platform.context import Viewer
from app.platform.errors import NotFound, Unauthenticated
from app.platform.ids import from_global_id
from app.platform.runtime import Runtime
from app.platform.security import (
    AccessClaims,
    InvalidAccessToken,
    decode_access_token,
    revoked_jti_key,
    revoked_session_key,
)

log = structlog.get_logger("parley.auth")


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must be `Bearer <access token>`.")
    return token.strip()


async def authenticate(
    runtime: Runtime,
    authorization: str | None,
    organization_header: str | None,
    *,
    ip: str = "",
) -> Viewer | None:
    """The viewer of a request, ``None`` when anonymous; a bad token is UNAUTHENTICATED."""
    token = bearer_token(authorization)
    if token is None:
        return None
    if api_keys.is_api_key(token):
        return await _api_key_viewer(runtime, token, organization_header, ip)
    try:
        claims = decode_access_token(runtime.settings, token)
    except InvalidAccessToken:
        raise Unauthenticated("The access token is invalid or expired.") from None
    revoked_keys = [revoked_jti_key(claims.jti)]
    if claims.session_id is not None:
        revoked_keys.append(revoked_session_key(claims.session_id))
    # Revocation is never cached: a revoked token or session fails its very next request.
    if await runtime.redis.exists(*revoked_keys):
        raise Unauthenticated("The access token has been revoked.")
    account = await runtime.cache.get_or_load(
        viewer_key(claims.user_id), lambda: _load_account(claims.user_id)
    )
    if account is None or not account.user.is_active:
        raise Unauthenticated("The access token is invalid or expired.")
    membership = _select_membership(account, claims.organization_id, organization_header)
    if membership is None and claims.organization_id is not None:
        # The token was issued for an organization the user has since been removed from.
        raise Unauthenticated("The access token is no longer valid; sign in again.")
    return Viewer(user=account.user, claims=claims, membership=membership)


async def _api_key_viewer(
    runtime: Runtime, secret: str, organization_header: str | None, ip: str
) -> Viewer:
    try:
        holder = await api_keys.authenticate(runtime.redis, secret, ip=ip)
    except api_keys.ApiKeyRefused:
        raise Unauthenticated("The API key is invalid, expired or revoked.") from None
    key, membership = holder.api_key, holder.membership
    if organization_header:
        type_name, org_id = from_global_id(organization_header)
        if type_name != "Organization" or org_id != key.organization_id:
            raise NotFound("No such organization.")
    expires = key.expires_at.timestamp() if key.expires_at is not None else _NEVER
    claims = AccessClaims(
        user_id=key.user_id,
        organization_id=key.organization_id,
        jti=api_keys.key_jti(key.id),
        expires_at=int(expires),
        session_id=None,
    )
    return Viewer(user=membership.user, claims=claims, membership=membership, api_key_id=key.id)


# An API key without expiry: its WebSocket is closed for expiry in about ten years.
_NEVER = 10 * 365 * 24 * 3600 + 1_800_000_000


@dataclass(frozen=True, slots=True)
class Account:
    """What authentication reads of a user, cached as one entry (see ``app.platform.cache``)."""

    user: User
    memberships: tuple[Membership, ...]  # with their organizations, oldest first


async def _load_account(user_id: int) -> Account | None:
    user = await User.get_or_none(id=user_id)
    if user is None:
        return None
    memberships = await Membership.filter(user_id=user_id).select_related("organization")
    return Account(user=user, memberships=tuple(sorted(memberships, key=lambda m: m.id)))


def _select_membership(
    account: Account, token_org: int | None, organization_header: str | None
) -> Membership | None:
    if organization_header:
        type_name, org_id = from_global_id(organization_header)
        membership = _membership_in(account, org_id) if type_name == "Organization" else None
        if membership is None:
            raise NotFound("No such organization.")
        return membership
    if token_org is not None:
        # The token's organization or nothing: a removed member must not slide into another.
        return _membership_in(account, token_org)
    # Without a choice, the user's first organization.
    return account.memberships[0] if account.memberships else None


def _membership_in(account: Account, organization_id: int) -> Membership | None:
    for membership in account.memberships:
        if membership.organization_id == organization_id:
            return membership
    return None
