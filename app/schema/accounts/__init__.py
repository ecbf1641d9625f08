"""Accounts in the schema: `me`, `organization`, `auditEvents` and the auth mutations."""

from __future__ import annotations

import strawberry

from app.models import accounts as models
from app.platform.context import Info
from app.resolvers.accounts import emails, login, members, mfa, sessions
from app.schema.accounts.payloads import (
    AcceptInvitationInput,
    AcceptInvitationPayload,
    AuthPayload,
    BeginTotpEnrollmentInput,
    ChangePasswordInput,
    ChangePasswordPayload,
    ConfirmEmailInput,
    ConfirmEmailPayload,
    ConfirmTotpEnrollmentInput,
    ConfirmTotpEnrollmentPayload,
    DisableTotpInput,
    DisableTotpPayload,
    InviteMemberInput,
    InviteMemberPayload,
    LoginInput,
    LogoutInput,
    LogoutPayload,
    RefreshTokenInput,
    RegisterInput,
    RemoveMemberInput,
    RemoveMemberPayload,
    RequestPasswordResetInput,
    RequestPasswordResetPayload,
    ResetPasswordInput,
    RevokeSessionInput,
    RevokeSessionPayload,
    TotpEnrollmentPayload,
    UpdateMemberRoleInput,
    UpdateMemberRolePayload,
)
from app.schema.accounts.types import AuditEventType, OrganizationType, UserType
from app.schema.pagination import Connection
from app.schema.permissions import HasRole, IsAuthenticated

_ADMIN = HasRole(models.Role.ADMIN)


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The signed-in user; null when not signed in.")
    def me(self, info: Info) -> UserType | None:
        viewer = info.context.viewer
        return UserType.from_model(viewer.user) if viewer else None

    @strawberry.field(
        description="The organization selected by the `X-Organization-Id` header (a global "
        "id), or the user's first organization; null when not signed in."
    )
    def organization(self, info: Info) -> OrganizationType | None:
        viewer = info.context.viewer
        organization = viewer.organization if viewer else None
        return OrganizationType.from_model(organization) if organization else None

    @strawberry.field(
        description="Security and administration events of the organization, oldest first "
        "(OWNER and ADMIN).",
        permission_classes=[_ADMIN],
    )
    async def audit_events(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AuditEventType]:
        return await members.audit_events(info, first, after)


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(
        description="Create an account and its first organization, or join the organization "
        "of an invitation (`invitationToken`). The answer is the same whether or not the "
        "email already has an account: the new account signs in with its email only once the "
        "emailed confirmation link is used."
    )
    async def register(self, info: Info, input: RegisterInput) -> AuthPayload:
        return await login.register(
            info,
            email=input.email,
            password=input.password,
            name=input.name,
            organization_name=input.organization_name or "",
            invitation_token=input.invitation_token,
        )

    @strawberry.mutation(
        description="Sign in. Wrong email and wrong password get the same answer; 5 failures "
        "in a row lock the account for 15 minutes."
    )
    async def login(self, info: Info, input: LoginInput) -> AuthPayload:
        return await login.login(info, email=input.email, password=input.password, otp=input.otp)

    @strawberry.mutation(
        description="Trade a refresh token for a new pair. A refresh token works once; "
        "presenting a used one again ends the whole session."
    )
    async def refresh_token(self, info: Info, input: RefreshTokenInput) -> AuthPayload:
        return await login.refresh(info, refresh_token=input.refresh_token)

    @strawberry.mutation(
        description="Sign out: the access token stops working at once.",
        permission_classes=[IsAuthenticated],
    )
    async def logout(self, info: Info, input: LogoutInput) -> LogoutPayload:
        count = await sessions.logout(info, input.refresh_token, bool(input.all_sessions))
        return LogoutPayload(revoked_sessions=count)

    @strawberry.mutation(description="Email a password reset link if the account exists.")
    async def request_password_reset(
        self, info: Info, input: RequestPasswordResetInput
    ) -> RequestPasswordResetPayload:
        return await emails.request_password_reset(info, email=input.email)

    @strawberry.mutation(
        description="Set a new password with a reset token and sign in; ends all other "
        "sessions. With MFA on it needs `otp` first (`mfaRequired`)."
    )
    async def reset_password(self, info: Info, input: ResetPasswordInput) -> AuthPayload:
        return await emails.reset_password(
            info, token=input.token, password=input.password, otp=input.otp
        )

    @strawberry.mutation(description="Confirm an email address.")
    async def confirm_email(self, info: Info, input: ConfirmEmailInput) -> ConfirmEmailPayload:
        return await emails.confirm_email(info, token=input.token)

    @strawberry.mutation(
        description="Change the password; other sessions end.",
        permission_classes=[IsAuthenticated],
    )
    async def change_password(
        self, info: Info, input: ChangePasswordInput
    ) -> ChangePasswordPayload:
        return await emails.change_password(
            info, current_password=input.current_password, new_password=input.new_password
        )

    @strawberry.mutation(
        description="Start TOTP enrolment: an otpauth URI for the authenticator app.",
        permission_classes=[IsAuthenticated],
    )
    async def begin_totp_enrollment(
        self, info: Info, input: BeginTotpEnrollmentInput
    ) -> TotpEnrollmentPayload:
        return await mfa.begin_enrollment(info, password=input.password)

    @strawberry.mutation(
        description="Finish TOTP enrolment; returns 10 single-use recovery codes.",
        permission_classes=[IsAuthenticated],
    )
    async def confirm_totp_enrollment(
        self, info: Info, input: ConfirmTotpEnrollmentInput
    ) -> ConfirmTotpEnrollmentPayload:
        return await mfa.confirm_enrollment(info, otp=input.otp)

    @strawberry.mutation(
        description="Turn TOTP off (needs the password).", permission_classes=[IsAuthenticated]
    )
    async def disable_totp(self, info: Info, input: DisableTotpInput) -> DisableTotpPayload:
        return await mfa.disable(info, password=input.password)

    @strawberry.mutation(
        description="End one of your sessions.", permission_classes=[IsAuthenticated]
    )
    async def revoke_session(self, info: Info, input: RevokeSessionInput) -> RevokeSessionPayload:
        return await sessions.revoke_session(info, input.session_id)

    @strawberry.mutation(
        description="Invite someone to the organization by email (OWNER and ADMIN).",
        permission_classes=[_ADMIN],
    )
    async def invite_member(self, info: Info, input: InviteMemberInput) -> InviteMemberPayload:
        return await members.invite_member(info, email=input.email, role=input.role)

    @strawberry.mutation(
        description="Join the organization of an invitation sent to your email (signed in); "
        "without an account, `register` with the `invitationToken` instead.",
        permission_classes=[IsAuthenticated],
    )
    async def accept_invitation(
        self, info: Info, input: AcceptInvitationInput
    ) -> AcceptInvitationPayload:
        return await members.accept_invitation(info, token=input.token)

    @strawberry.mutation(
        description="Change a member's role (OWNER and ADMIN); the last OWNER stays.",
        permission_classes=[_ADMIN],
    )
    async def update_member_role(
        self, info: Info, input: UpdateMemberRoleInput
    ) -> UpdateMemberRolePayload:
        return await members.update_member_role(info, member_id=input.member_id, role=input.role)

    @strawberry.mutation(
        description="Remove a member (OWNER and ADMIN); the last OWNER stays.",
        permission_classes=[_ADMIN],
    )
    async def remove_member(self, info: Info, input: RemoveMemberInput) -> RemoveMemberPayload:
        return await members.remove_member(info, member_id=input.member_id)
