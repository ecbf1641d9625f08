"""Who is calling: the bearer token of a request or of a WebSocket's ``connection_init``."""

from __future__ import annotations

import structlog

from app.context import Viewer
from app.errors import NotFound, Unauthenticated
from app.models.accounts import Membership, User
from app.runtime import Runtime
from app.schema.node import from_global_id
from app.security import (
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
    runtime: Runtime, authorization: str | None, organization_header: str | None
) -> Viewer | None:
    """The viewer of a request, ``None`` when anonymous; a bad token is UNAUTHENTICATED."""
    token = bearer_token(authorization)
    if token is None:
        return None
    try:
        claims = decode_access_token(runtime.settings, token)
    except InvalidAccessToken:
        raise Unauthenticated("The access token is invalid or expired.") from None
    revoked_keys = [revoked_jti_key(claims.jti)]
    if claims.session_id is not None:
        revoked_keys.append(revoked_session_key(claims.session_id))
    if await runtime.redis.exists(*revoked_keys):
        raise Unauthenticated("The access token has been revoked.")
    user = await User.get_or_none(id=claims.user_id, is_active=True)
    if user is None:
        raise Unauthenticated("The access token is invalid or expired.")
    membership = await _select_membership(user, claims.organization_id, organization_header)
    if membership is None and claims.organization_id is not None:
        # The token was issued for an organization the user has since been removed from.
        raise Unauthenticated("The access token is no longer valid; sign in again.")
    return Viewer(user=user, claims=claims, membership=membership)


async def _select_membership(
    user: User, token_org: int | None, organization_header: str | None
) -> Membership | None:
    memberships = Membership.filter(user_id=user.id).select_related("organization")
    if organization_header:
        type_name, org_id = from_global_id(organization_header)
        membership = (
            await memberships.filter(organization_id=org_id).first()
            if type_name == "Organization"
            else None
        )
        if membership is None:
            raise NotFound("No such organization.")
        return membership
    if token_org is not None:
        # The token's organization or nothing: a removed member must not slide into another.
        return await memberships.filter(organization_id=token_org).first()
    # Without a choice, the user's first organization.
    return await memberships.order_by("id").first()
