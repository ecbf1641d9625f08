"""Members of the caller's organization: invitations, roles, removal; audit events."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from app.accounts.addresses import email_problem, normalize_email
from app.models.accounts import (
    AuditEvent,
    Membership,
    OneTimeToken,
    Organization,
    Role,
    TokenPurpose,
    User,
)
from app.plans import quotas
from app.plans.limits import Limit
from app.platform.clock import now
from app.platform.context import Info
from app.platform.errors import Forbidden, NotFound
from app.platform.ids import decode_id
from app.platform.security import hash_token
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.accounts.common import audit
from app.resolvers.accounts.emails import consume_token_row, issue_token, send_mail


def org_id(info: Info) -> int:
    """The caller's organization; every org-scoped read and write starts here."""
    viewer = info.context.viewer
    if viewer is None or viewer.organization_id is None:
        raise Forbidden("Select an organization you are a member of.")
    return viewer.organization_id


def in_org(queryset: QuerySet[Membership], info: Info) -> QuerySet[Membership]:
    return queryset.filter(organization_id=org_id(info))


async def _member(info: Info, member_global_id: str) -> Membership:
    pk = decode_id(member_global_id, "Member", field=("input", "memberId"))
    membership = await in_org(Membership.filter(id=pk), info).first()
    if membership is None:
        raise NotFound("No such member.")
    return membership


async def _is_last_owner(membership: Membership) -> bool:
    if membership.role != Role.OWNER:
        return False
    owners = await Membership.filter(
        organization_id=membership.organization_id, role=Role.OWNER
    ).count()
    return owners <= 1


@contextlib.asynccontextmanager
async def _owners_locked(
    info: Info, member_global_id: str
) -> AsyncIterator[tuple[Membership, Role]]:
    """A transaction in which no one else changes the organization's roles; the member and the
    caller's role as they are now.

    Two OWNERs demoting or removing each other at once would otherwise both count two OWNERs
    and both succeed. Every change that can take an OWNER away runs in here: PostgreSQL locks
    the organization's row until the commit; SQLite runs one transaction at a time. The
    caller's own role is read again too: a concurrent change may have lowered it.
    """
    membership = await _member(info, member_global_id)
    viewer = info.context.viewer
    assert viewer is not None
    async with in_transaction():
        await Organization.select_for_update().filter(id=membership.organization_id).first()
        current = await Membership.get_or_none(id=membership.id)
        if current is None:
            raise NotFound("No such member.")
        actor = await Membership.get_or_none(
            user_id=viewer.user.id, organization_id=membership.organization_id
        )
        if actor is None or not Role(actor.role).at_least(Role.ADMIN):
            raise Forbidden("This needs the ADMIN role or higher.")
        yield current, Role(actor.role)


def _may_manage(actor: Role, role: Role) -> bool:
    # An ADMIN manages AGENTs and VIEWERs and other ADMINs; only an OWNER touches OWNERs.
    return actor == Role.OWNER or role != Role.OWNER


def _viewer_role(info: Info) -> Role:
    viewer = info.context.viewer
    assert viewer is not None and viewer.role is not None
    return viewer.role


async def invite_member(
    info: Info, *, email: str, role: Role
) -> tuple[str | None, list[UserError]]:
    """The address the invitation is mailed to."""
    organization_id = org_id(info)
    email = normalize_email(email)
    if problem := email_problem(email):
        return None, [user_error("email", problem, UserErrorCode.INVALID)]
    if not _may_manage(_viewer_role(info), role):
        raise Forbidden("Only an OWNER can invite an OWNER.")
    if await Membership.filter(organization_id=organization_id, user__email=email).exists():
        return None, [user_error("email", "Already a member.", UserErrorCode.TAKEN)]
    settings = info.context.settings
    # A seat is a member or a pending invitation; inviting an address again takes no new one.
    invited = await OneTimeToken.exists(
        organization_id=organization_id,
        email=email,
        purpose=TokenPurpose.INVITATION,
        used_at__isnull=True,
        expires_at__gt=now(),
    )
    runtime = info.context.runtime
    async with quotas.capacity(runtime, organization_id, Limit.SEATS, 0 if invited else 1) as no:
        if no is not None:
            return None, [no.user_error("email")]
        token = await issue_token(
            info,
            TokenPurpose.INVITATION,
            settings.email_token_ttl_seconds,
            organization_id=organization_id,
            email=email,
            role=role,
        )
    organization = await Organization.get(id=organization_id)
    link = f"{settings.public_url}/accept-invitation?token={token}"
    await send_mail(
        info,
        to=email,
        subject=f"You are invited to {organization.name} on Parley",
        body=f"Join {organization.name} on Parley: {link}",
    )
    viewer = info.context.viewer
    assert viewer is not None
    await audit(
        info,
        "MEMBER_INVITED",
        actor_id=viewer.user.id,
        organization_id=organization_id,
        role=role.value,
    )
    return email, []


INVALID_INVITATION = "The invitation is invalid or expired."


async def open_invitation(token: str, email: str) -> OneTimeToken | None:
    """The unused, unexpired invitation ``token`` sent to ``email``; not consumed yet.

    Checking the address before consuming keeps someone else who got hold of the link from
    burning the invitation of the person it was sent to.
    """
    row = await OneTimeToken.get_or_none(
        token_hash=hash_token(token), purpose=TokenPurpose.INVITATION
    )
    if (
        row is None
        or row.organization_id is None
        or row.used_at is not None
        or row.expires_at <= now()
        or row.email != email
    ):
        return None
    return row


async def join(info: Info, user: User, invitation: OneTimeToken) -> Membership | None:
    """Consume ``invitation`` and make ``user`` a member with its role; ``None`` if it is gone."""
    assert invitation.organization_id is not None
    if await consume_token_row(invitation) is None:
        return None
    membership, _ = await Membership.get_or_create(
        user_id=user.id,
        organization_id=invitation.organization_id,
        defaults={"role": invitation.role or Role.VIEWER},
    )
    await audit(
        info,
        "MEMBER_JOINED",
        actor_id=user.id,
        organization_id=invitation.organization_id,
        role=Role(membership.role).value,
    )
    return membership


async def accept_invitation(info: Info, *, token: str) -> tuple[Membership | None, list[UserError]]:
    viewer = info.context.viewer
    assert viewer is not None
    invitation = await open_invitation(token, viewer.user.email)
    membership = await join(info, viewer.user, invitation) if invitation else None
    if membership is None:
        return None, [user_error("token", INVALID_INVITATION, UserErrorCode.INVALID)]
    return membership, []


async def update_member_role(
    info: Info, *, member_id: str, role: Role
) -> tuple[Membership | None, list[UserError]]:
    async with _owners_locked(info, member_id) as (membership, actor):
        if not _may_manage(actor, Role(membership.role)) or not _may_manage(actor, role):
            raise Forbidden("Only an OWNER can change an OWNER's role or make an OWNER.")
        if role != Role.OWNER and await _is_last_owner(membership):
            return None, [
                user_error("role", "The last OWNER cannot be demoted.", UserErrorCode.CONFLICT)
            ]
        previous = membership.role
        membership.role = role
        await membership.save(update_fields=["role", "updated_at"])
    viewer = info.context.viewer
    assert viewer is not None
    await audit(
        info,
        "ROLE_CHANGED",
        actor_id=viewer.user.id,
        organization_id=membership.organization_id,
        subject_user_id=membership.user_id,
        previous=Role(previous).value,
        role=role.value,
    )
    return membership, []


async def remove_member(info: Info, *, member_id: str) -> tuple[Membership | None, list[UserError]]:
    """The membership as it was before its removal."""
    async with _owners_locked(info, member_id) as (membership, actor):
        if not _may_manage(actor, Role(membership.role)):
            raise Forbidden("Only an OWNER can remove an OWNER.")
        if await _is_last_owner(membership):
            return None, [
                user_error("memberId", "The last OWNER cannot be removed.", UserErrorCode.CONFLICT)
            ]
        await membership.delete()
    viewer = info.context.viewer
    assert viewer is not None
    await audit(
        info,
        "MEMBER_REMOVED",
        actor_id=viewer.user.id,
        organization_id=membership.organization_id,
        subject_user_id=membership.user_id,
    )
    return membership, []


def audit_events(info: Info) -> QuerySet[AuditEvent]:
    """The events the caller's organization sees, for the schema to page through."""
    organization = org_id(info)
    # Events of the organization, and a member's own security events (sign-ins, lockouts,
    # token reuse, MFA and password changes), which belong to the user, not to one org.
    members = Membership.filter(organization_id=organization).values("user_id")
    return AuditEvent.filter(
        Q(organization_id=organization)
        | (
            Q(organization_id=None)
            & (Q(actor_id__in=Subquery(members)) | Q(subject_user_id__in=Subquery(members)))
        )
    )
