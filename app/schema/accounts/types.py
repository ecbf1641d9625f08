"""GraphQL types of accounts: users, organizations, members, sessions, audit events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.scalars import JSON

from app.dataloaders.accounts import (
    membership_by_org_and_user,
    memberships_by_user,
    organization_by_id,
    user_by_id,
)
from app.models import accounts as models
from app.platform.context import Info
from app.platform.errors import Forbidden
from app.platform.ids import to_global_id
from app.platform.pagination import page_args
from app.resolvers import plans
from app.resolvers.accounts.sessions import active_sessions
from app.schema.node import Node
from app.schema.pagination import Connection, paginate
from app.schema.permissions import HasRole, IsAuthenticated
from app.schema.plans.types import OrganizationSubscription, Usage

Role = strawberry.enum(models.Role, description="Roles in an organization, highest first.")


class CanSeeEmail(BasePermission):
    """A user's email: themselves (also as signed in by `login` or `register`), staff, and
    ADMIN+ of an organization the user belongs to.

    Anyone else reads ``null`` (the field is nullable; no error, so lists still render).
    """

    message = "Only the user, staff and their organization's admins see an email."

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if source.is_caller:
            return True
        viewer = info.context.viewer
        if viewer is None:
            return False
        if viewer.user.id == source.model.id or viewer.user.is_staff:
            return True
        if viewer.role is None or viewer.organization_id is None:
            return False
        if not viewer.role.at_least(models.Role.ADMIN):
            return False
        membership = await info.context.loaders.get(membership_by_org_and_user).load(
            (viewer.organization_id, source.model.id)
        )
        return membership is not None


class IsSelf(BasePermission):
    message = "Only the user themselves can see this."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if viewer is None or viewer.user.id != source.model.id:
            raise Forbidden(self.message)
        return True


@strawberry.type(
    name="Session", description="A signed-in device or browser (a refresh token family)."
)
class SessionType(Node):
    model: strawberry.Private[models.Session]
    created_at: datetime = strawberry.field(description="When the user signed in.")
    last_used_at: datetime | None = strawberry.field(
        description="When the session last refreshed its tokens."
    )
    ip: str = strawberry.field(description="IP address of the last use.")
    user_agent: str = strawberry.field(description="User agent of the last use.")
    current: bool = strawberry.field(description="True for the session of this request.")

    @classmethod
    def from_model(cls, session: models.Session, current_session_id: int | None) -> SessionType:
        return cls(
            id=to_global_id("Session", session.id),
            model=session,
            created_at=session.created_at,
            last_used_at=session.last_used_at,
            ip=session.ip,
            user_agent=session.user_agent,
            current=session.id == current_session_id,
        )


@strawberry.type(name="User", description="A person who signs in to Parley.")
class UserType(Node):
    model: strawberry.Private[models.User]
    name: str = strawberry.field(description="Display name.")
    created_at: datetime = strawberry.field(description="When the account was created.")
    # The user an AuthPayload signs in: the caller, though the request carried no token yet.
    is_caller: strawberry.Private[bool] = False

    @classmethod
    def from_model(cls, user: models.User, *, is_caller: bool = False) -> UserType:
        return cls(
            id=to_global_id("User", user.id),
            model=user,
            name=user.name,
            created_at=user.created_at,
            is_caller=is_caller,
        )

    @strawberry.field(
        description="Email address: visible to the user, staff and their organization's "
        "admins; null for everyone else.",
        extensions=[PermissionExtension(permissions=[CanSeeEmail()], fail_silently=True)],
    )
    def email(self) -> str | None:
        return self.model.address

    @strawberry.field(description="Whether the email address has been confirmed.")
    def email_verified(self) -> bool:
        return self.model.email_verified_at is not None

    @strawberry.field(
        description="Whether sign-in needs a TOTP code (only the user themselves).",
        permission_classes=[IsSelf],
    )
    def mfa_enabled(self) -> bool:
        return self.model.totp_enabled_at is not None

    @strawberry.field(
        description="Active sign-in sessions, newest first (only the user themselves).",
        permission_classes=[IsSelf],
    )
    async def sessions(self, info: Info) -> list[SessionType]:
        viewer = info.context.viewer
        assert viewer is not None
        return [
            SessionType.from_model(session, viewer.claims.session_id)
            for session in await active_sessions(self.model.id)
        ]

    @strawberry.field(
        description="The organizations the user belongs to, each with their role, oldest "
        "first (only the user themselves): what an organization switcher lists. Send one's "
        "`organization.id` as `X-Organization-Id` (or the socket's `organizationId`) to work "
        "in it; without it, requests run in the first.",
        permission_classes=[IsSelf],
    )
    async def memberships(self, info: Info) -> list[MemberType]:
        memberships = await info.context.loaders.get(memberships_by_user).load(self.model.id)
        return [MemberType.from_model(membership) for membership in memberships]


@strawberry.type(name="Member", description="A user's membership of an organization, with a role.")
class MemberType(Node):
    model: strawberry.Private[models.Membership]
    role: Role = strawberry.field(description="The member's role.")  # type: ignore[valid-type]
    created_at: datetime = strawberry.field(description="When the user joined.")

    @classmethod
    def from_model(cls, membership: models.Membership) -> MemberType:
        return cls(
            id=to_global_id("Member", membership.id),
            model=membership,
            role=models.Role(membership.role),
            created_at=membership.created_at,
        )

    @strawberry.field(description="The member.")
    async def user(self, info: Info) -> UserType:
        user = await info.context.loaders.get(user_by_id).load(self.model.user_id)
        assert user is not None
        return UserType.from_model(user)

    @strawberry.field(description="The organization the user is a member of.")
    async def organization(self, info: Info) -> OrganizationType:
        loader = info.context.loaders.get(organization_by_id)
        organization = await loader.load(self.model.organization_id)
        assert organization is not None
        return OrganizationType.from_model(organization)


@strawberry.type(name="Organization", description="A business (tenant) and its members.")
class OrganizationType(Node):
    model: strawberry.Private[models.Organization]
    name: str = strawberry.field(description="Name of the business.")
    created_at: datetime = strawberry.field(description="When the organization was created.")

    @classmethod
    def from_model(cls, organization: models.Organization) -> OrganizationType:
        return cls(
            id=to_global_id("Organization", organization.id),
            model=organization,
            name=organization.name,
            created_at=organization.created_at,
        )

    @strawberry.field(
        description='Opening hours (`{"timezone", "hours": {"mon": "09:00-17:00"}, "note"}`) '
        "that AI agents answer from unless an agent has its own; set with setBusinessHours "
        "(visible to members).",
        permission_classes=[HasRole(models.Role.VIEWER)],
    )
    def business_hours(self, info: Info) -> JSON:
        viewer = info.context.viewer
        if viewer is None or viewer.organization_id != self.model.id:
            raise Forbidden()
        return JSON(dict(self.model.business_hours or {}))

    @strawberry.field(
        description="The organization's plan and subscription (visible to members).",
        permission_classes=[HasRole(models.Role.VIEWER)],
    )
    async def subscription(self, info: Info) -> OrganizationSubscription:
        self._check_member(info)
        return OrganizationSubscription.from_model(await plans.subscription_of(info, self.model.id))

    @strawberry.field(
        description="What the organization uses this period, each limit beside it (members).",
        permission_classes=[HasRole(models.Role.VIEWER)],
    )
    async def usage(self, info: Info) -> Usage:
        self._check_member(info)
        return Usage.from_usage(await plans.usage(info, self.model.id))

    def _check_member(self, info: Info) -> None:
        viewer = info.context.viewer
        if viewer is None or viewer.organization_id != self.model.id:
            raise Forbidden()

    @strawberry.field(description="The caller's role in this organization.")
    def viewer_role(self, info: Info) -> Role | None:  # type: ignore[valid-type]
        viewer = info.context.viewer
        return viewer.role if viewer and viewer.organization_id == self.model.id else None

    @strawberry.field(
        description="Members, oldest first (visible to members).",
        permission_classes=[HasRole(models.Role.VIEWER)],
    )
    async def members(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[MemberType]:
        viewer = info.context.viewer
        assert viewer is not None
        if viewer.organization_id != self.model.id:
            raise Forbidden()
        # API keys and webhooks act through memberships of their own; they are not members.
        queryset = models.Membership.filter(organization_id=self.model.id, user__is_service=False)
        return await paginate(queryset, page_args(first, after), MemberType.from_model)


def _may_see_client(info: Info, event: models.AuditEvent) -> bool:
    """Whether the caller may see the ip and user agent of ``event``'s request: the OWNERs of
    the organization, and the person who made the request (its actor, or the user someone
    tried to sign in as)."""
    viewer = info.context.viewer
    if viewer is None:
        return False
    if viewer.role == models.Role.OWNER:
        return True
    person = event.actor_id if event.actor_id is not None else event.subject_user_id
    return person == viewer.user.id


@strawberry.type(name="AuditEvent", description="A security or administration event.")
class AuditEventType(Node):
    model: strawberry.Private[models.AuditEvent]
    kind: str = strawberry.field(
        description="What happened, e.g. LOGIN_SUCCEEDED, LOGIN_FAILED, ACCOUNT_LOCKED, "
        "REFRESH_TOKEN_REUSED, PASSWORD_CHANGED, MFA_ENABLED, ROLE_CHANGED."
    )
    created_at: datetime = strawberry.field(description="When it happened.")

    @classmethod
    def from_model(cls, event: models.AuditEvent) -> AuditEventType:
        return cls(
            id=to_global_id("AuditEvent", event.id),
            model=event,
            kind=event.kind,
            created_at=event.created_at,
        )

    @strawberry.field(
        description="IP address of the request that caused it. Where someone signs in from is "
        "theirs and their OWNERs' to see: an ADMIN reads an empty string for another "
        "member's events."
    )
    def ip(self, info: Info) -> str:
        return self.model.ip if _may_see_client(info, self.model) else ""

    @strawberry.field(
        description="Details of the event (never secrets); `user_agent` only where `ip` is shown."
    )
    def data(self, info: Info) -> JSON:
        data = dict(self.model.data)
        if not _may_see_client(info, self.model):
            data.pop("user_agent", None)
        return JSON(data)

    @strawberry.field(description="Who did it, when known.")
    async def actor(self, info: Info) -> UserType | None:
        if self.model.actor_id is None:
            return None
        user = await info.context.loaders.get(user_by_id).load(self.model.actor_id)
        return UserType.from_model(user) if user else None


__all__ = [
    "AuditEventType",
    "IsAuthenticated",
    "MemberType",
    "OrganizationType",
    "Role",
    "SessionType",
    "UserType",
]
