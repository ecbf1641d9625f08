"""The users API keys and webhooks act as: not people, never signed in with a password.

Each key and each webhook has one, with a membership of its role in its organization, so every
rule that reads a membership (field permissions, the organization scope, live subscriptions'
re-authorization) applies to it unchanged, and it outlives the member who created it.
"""

from __future__ import annotations

from app.models.accounts import Membership, Role, User
from app.platform.security import new_opaque_token

SERVICE_DOMAIN = "service.parley.invalid"


async def create_service_member(organization_id: int, name: str, role: Role) -> User:
    # `.invalid` is reserved (RFC 2606): the address can never receive mail or be registered.
    email = f"{new_opaque_token(12).lower().replace('_', '-')}@{SERVICE_DOMAIN}"
    user = await User.create(email=email, name=name[:200], is_service=True)
    await Membership.create(user_id=user.id, organization_id=organization_id, role=role)
    return user


async def remove_service_member(user_id: int) -> None:
    """Its membership goes (live subscriptions of it end on their next event); the user stays
    for the audit trail, inactive."""
    for membership in await Membership.filter(user_id=user_id):
        await membership.delete()
    user = await User.get_or_none(id=user_id)
    if user is not None and user.is_active:
        user.is_active = False
        await user.save(update_fields=["is_active", "updated_at"])
