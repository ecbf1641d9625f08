"""Accounts mutations: one `input`, a payload with `userErrors`."""

from __future__ import annotations

import strawberry

from app.models import accounts as models
from app.platform.context import Info
from app.platform.ids import to_global_id
from app.resolvers.accounts import emails, login, members, mfa, sessions
from app.resolvers.accounts.signin import SignIn
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
from app.schema.accounts.types import MemberType, UserType
from app.schema.permissions import HasRole, IsAuthenticated

_ADMIN = HasRole(models.Role.ADMIN)


def _auth_payload(result: SignIn) -> AuthPayload:
    tokens = result.tokens
    return AuthPayload(
        access_token=tokens.access_token if tokens else None,
        refresh_token=tokens.refresh_token if tokens else None,
        expires_in=tokens.expires_in if tokens else None,
        mfa_required=result.mfa_required,
        # Signed in by this very answer: the user is the caller, though the request had no token.
        user=UserType.from_model(result.user, is_caller=True) if result.user else None,
        user_errors=result.errors,
    )


def _user(row: models.User | None) -> UserType | None:
    return UserType.from_model(row) if row is not None else None


def _member(row: models.Membership | None) -> MemberType | None:
    return MemberType.from_model(row) if row is not None else None


def _global_id(
    type_name: str, row: models.Session | models.Membership | None
) -> strawberry.ID | None:
    return strawberry.ID(to_global_id(type_name, row.id)) if row is not None else None


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(
        description="Create an account and its first organization, or join the organization "
        "of an invitation (`invitationToken`). The answer is the same whether or not the "
        "email already has an account: the new account signs in with its email only once the "
        "emailed confirmation link is used."
    )
    async def register(self, info: Info, input: RegisterInput) -> AuthPayload:
        result = await login.register(
            info,
            email=input.email,
            password=input.password,
            name=input.name,
            organization_name=input.organization_name or "",
            invitation_token=input.invitation_token,
        )
        return _auth_payload(result)

    @strawberry.mutation(
        description="Sign in. Wrong email and wrong password get the same answer; 5 failures "
        "in a row lock the account for 15 minutes."
    )
    async def login(self, info: Info, input: LoginInput) -> AuthPayload:
        result = await login.login(info, email=input.email, password=input.password, otp=input.otp)
        return _auth_payload(result)

    @strawberry.mutation(
        description="Trade a refresh token for a new pair. A refresh token works once; "
        "presenting a used one again ends the whole session."
    )
    async def refresh_token(self, info: Info, input: RefreshTokenInput) -> AuthPayload:
        return _auth_payload(await login.refresh(info, refresh_token=input.refresh_token))

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
        await emails.request_password_reset(info, email=input.email)
        # The same answer either way: the response does not reveal who has an account.
        return RequestPasswordResetPayload(ok=True)

    @strawberry.mutation(
        description="Set a new password with a reset token and sign in; ends all other "
        "sessions. With MFA on it needs `otp` first (`mfaRequired`)."
    )
    async def reset_password(self, info: Info, input: ResetPasswordInput) -> AuthPayload:
        result = await emails.reset_password(
            info, token=input.token, password=input.password, otp=input.otp
        )
        return _auth_payload(result)

    @strawberry.mutation(description="Confirm an email address.")
    async def confirm_email(self, info: Info, input: ConfirmEmailInput) -> ConfirmEmailPayload:
        user, errors = await emails.confirm_email(info, token=input.token)
        return ConfirmEmailPayload(user=_user(user), user_errors=errors)

    @strawberry.mutation(
        description="Change the password; other sessions end.",
        permission_classes=[IsAuthenticated],
    )
    async def change_password(
        self, info: Info, input: ChangePasswordInput
    ) -> ChangePasswordPayload:
        user, errors = await emails.change_password(
            info, current_password=input.current_password, new_password=input.new_password
        )
        return ChangePasswordPayload(user=_user(user), user_errors=errors)

    @strawberry.mutation(
        description="Start TOTP enrolment: an otpauth URI for the authenticator app.",
        permission_classes=[IsAuthenticated],
    )
    async def begin_totp_enrollment(
        self, info: Info, input: BeginTotpEnrollmentInput
    ) -> TotpEnrollmentPayload:
        uri, errors = await mfa.begin_enrollment(info, password=input.password)
        return TotpEnrollmentPayload(otpauth_uri=uri, user_errors=errors)

    @strawberry.mutation(
        description="Finish TOTP enrolment; returns 10 single-use recovery codes.",
        permission_classes=[IsAuthenticated],
    )
    async def confirm_totp_enrollment(
        self, info: Info, input: ConfirmTotpEnrollmentInput
    ) -> ConfirmTotpEnrollmentPayload:
        codes, errors = await mfa.confirm_enrollment(info, otp=input.otp)
        return ConfirmTotpEnrollmentPayload(recovery_codes=codes, user_errors=errors)

    @strawberry.mutation(
        description="Turn TOTP off (needs the password).", permission_classes=[IsAuthenticated]
    )
    async def disable_totp(self, info: Info, input: DisableTotpInput) -> DisableTotpPayload:
        user, errors = await mfa.disable(info, password=input.password)
        return DisableTotpPayload(user=_user(user), user_errors=errors)

    @strawberry.mutation(
        description="End one of your sessions.", permission_classes=[IsAuthenticated]
    )
    async def revoke_session(self, info: Info, input: RevokeSessionInput) -> RevokeSessionPayload:
        session, errors = await sessions.revoke_session(info, input.session_id)
        return RevokeSessionPayload(
            revoked_session_id=_global_id("Session", session), user_errors=errors
        )

    @strawberry.mutation(
        description="Invite someone to the organization by email (OWNER and ADMIN).",
        permission_classes=[_ADMIN],
    )
    async def invite_member(self, info: Info, input: InviteMemberInput) -> InviteMemberPayload:
        email, errors = await members.invite_member(info, email=input.email, role=input.role)
        return InviteMemberPayload(email=email, user_errors=errors)

    @strawberry.mutation(
        description="Join the organization of an invitation sent to your email (signed in); "
        "without an account, `register` with the `invitationToken` instead.",
        permission_classes=[IsAuthenticated],
    )
    async def accept_invitation(
        self, info: Info, input: AcceptInvitationInput
    ) -> AcceptInvitationPayload:
        membership, errors = await members.accept_invitation(info, token=input.token)
        return AcceptInvitationPayload(member=_member(membership), user_errors=errors)

    @strawberry.mutation(
        description="Change a member's role (OWNER and ADMIN); the last OWNER stays.",
        permission_classes=[_ADMIN],
    )
    async def update_member_role(
        self, info: Info, input: UpdateMemberRoleInput
    ) -> UpdateMemberRolePayload:
        membership, errors = await members.update_member_role(
            info, member_id=input.member_id, role=input.role
        )
        return UpdateMemberRolePayload(member=_member(membership), user_errors=errors)

    @strawberry.mutation(
        description="Remove a member (OWNER and ADMIN); the last OWNER stays.",
        permission_classes=[_ADMIN],
    )
    async def remove_member(self, info: Info, input: RemoveMemberInput) -> RemoveMemberPayload:
        membership, errors = await members.remove_member(info, member_id=input.member_id)
        return RemoveMemberPayload(
            removed_member_id=_global_id("Member", membership), user_errors=errors
        )
