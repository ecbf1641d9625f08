"""Inputs and payloads of the accounts mutations."""

from __future__ import annotations

import strawberry

from app.schema.accounts.types import MemberType, Role, UserType
from app.schema.user_errors import UserError


@strawberry.input(
    description="Create an account and its first organization (you become OWNER), or, with an "
    "invitation token, join the inviting organization with the invited role."
)
class RegisterInput:
    email: str = strawberry.field(
        description="Email address; also the sign-in name. With an invitation token it must be "
        "the address the invitation was sent to."
    )
    password: str = strawberry.field(
        description="At least 10 characters, not the email, not a common password."
    )
    name: str = strawberry.field(description="Your display name.")
    organization_name: str | None = strawberry.field(
        default=None,
        description="Name of your business; required unless `invitationToken` is given.",
    )
    invitation_token: str | None = strawberry.field(
        default=None,
        description="Token from an invitation link: join that organization instead of "
        "creating one. The email counts as confirmed.",
    )


@strawberry.input(description="Sign in with email and password (and a TOTP code when enrolled).")
class LoginInput:
    email: str = strawberry.field(description="Email address.")
    password: str = strawberry.field(description="Password.")
    otp: str | None = strawberry.field(
        default=None, description="TOTP code or a recovery code, when MFA is on."
    )


@strawberry.input(description="Trade a refresh token for a new token pair (rotation).")
class RefreshTokenInput:
    refresh_token: str = strawberry.field(description="The latest refresh token of the session.")


@strawberry.input(description="End this session, or all of them.")
class LogoutInput:
    refresh_token: str | None = strawberry.field(
        default=None, description="The session's refresh token, to revoke it too."
    )
    all_sessions: bool | None = strawberry.field(
        default=False, description="Revoke every session of the user."
    )


@strawberry.input(description="Ask for a password reset link by email.")
class RequestPasswordResetInput:
    email: str = strawberry.field(description="Email address of the account.")


@strawberry.input(
    description="Set a new password with the token from the reset email (and, when MFA is on, "
    "a TOTP or recovery code)."
)
class ResetPasswordInput:
    token: str = strawberry.field(description="Token from the reset link.")
    password: str = strawberry.field(description="The new password.")
    otp: str | None = strawberry.field(
        default=None,
        description="TOTP code or a recovery code, when MFA is on: without it the answer is "
        "`mfaRequired` and nothing changes yet.",
    )


@strawberry.input(description="Confirm an email address with the token from the email.")
class ConfirmEmailInput:
    token: str = strawberry.field(description="Token from the confirmation link.")


@strawberry.input(description="Change the password of the signed-in user.")
class ChangePasswordInput:
    current_password: str = strawberry.field(description="The current password.")
    new_password: str = strawberry.field(description="The new password.")


@strawberry.input(description="Start TOTP enrolment.")
class BeginTotpEnrollmentInput:
    password: str = strawberry.field(description="The current password, to confirm it is you.")


@strawberry.input(description="Finish TOTP enrolment with a code from the authenticator app.")
class ConfirmTotpEnrollmentInput:
    otp: str = strawberry.field(description="The current 6-digit code.")


@strawberry.input(description="Turn TOTP off.")
class DisableTotpInput:
    password: str = strawberry.field(description="The current password.")


@strawberry.input(description="Revoke one of your sessions.")
class RevokeSessionInput:
    session_id: strawberry.ID = strawberry.field(description="Global id of the session.")


@strawberry.input(description="Invite someone to the current organization by email.")
class InviteMemberInput:
    email: str = strawberry.field(description="Email address of the invitee.")
    role: Role = strawberry.field(description="Role they get on accepting.")  # type: ignore[valid-type]


@strawberry.input(description="Change a member's role.")
class UpdateMemberRoleInput:
    member_id: strawberry.ID = strawberry.field(description="Global id of the member.")
    role: Role = strawberry.field(description="The new role.")  # type: ignore[valid-type]


@strawberry.input(description="Remove a member from the current organization.")
class RemoveMemberInput:
    member_id: strawberry.ID = strawberry.field(description="Global id of the member.")


@strawberry.input(description="Join an organization with the token of an invitation email.")
class AcceptInvitationInput:
    token: str = strawberry.field(description="Token from the invitation link.")


@strawberry.type(description="The result of signing in, signing up or refreshing.")
class AuthPayload:
    access_token: str | None = strawberry.field(
        default=None, description="JWT; send it as `Authorization: Bearer …`."
    )
    refresh_token: str | None = strawberry.field(
        default=None, description="Opaque; single use, trade it with `refreshToken`."
    )
    expires_in: int | None = strawberry.field(
        default=None, description="Seconds until the access token expires."
    )
    mfa_required: bool = strawberry.field(
        default=False,
        description="True: no tokens yet; call the mutation again with `otp` (a TOTP code or a "
        "recovery code).",
    )
    user: UserType | None = strawberry.field(default=None, description="The signed-in user.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why it did not work."
    )


@strawberry.type(description="The result of `logout`.")
class LogoutPayload:
    revoked_sessions: int = strawberry.field(default=0, description="Sessions revoked.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="Problems.")


@strawberry.type(description="Always the same answer, whether or not the email has an account.")
class RequestPasswordResetPayload:
    ok: bool = strawberry.field(default=True, description="The request was accepted.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="Problems.")


@strawberry.type(description="The result of `confirmEmail`.")
class ConfirmEmailPayload:
    user: UserType | None = strawberry.field(default=None, description="The confirmed user.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="Problems.")


@strawberry.type(description="The result of `changePassword`; other sessions are revoked.")
class ChangePasswordPayload:
    user: UserType | None = strawberry.field(default=None, description="The user.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="Problems.")


@strawberry.type(description="A TOTP secret to load into an authenticator app.")
class TotpEnrollmentPayload:
    otpauth_uri: str | None = strawberry.field(
        default=None, description="`otpauth://` URI (show it as a QR code)."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="Problems.")


@strawberry.type(description="TOTP is on; keep the recovery codes somewhere safe.")
class ConfirmTotpEnrollmentPayload:
    recovery_codes: list[str] | None = strawberry.field(
        default=None, description="10 single-use codes, shown only this once."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="Problems.")


@strawberry.type(description="The result of `disableTotp`.")
class DisableTotpPayload:
    user: UserType | None = strawberry.field(default=None, description="The user.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="Problems.")


@strawberry.type(description="The result of `revokeSession`.")
class RevokeSessionPayload:
    revoked_session_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global id of the revoked session."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="Problems.")


@strawberry.type(description="The result of `inviteMember`: the invitation email is on its way.")
class InviteMemberPayload:
    email: str | None = strawberry.field(default=None, description="Who was invited.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="Problems.")


@strawberry.type(description="The result of `updateMemberRole`.")
class UpdateMemberRolePayload:
    member: MemberType | None = strawberry.field(default=None, description="The member.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="Problems.")


@strawberry.type(description="The result of `acceptInvitation`.")
class AcceptInvitationPayload:
    member: MemberType | None = strawberry.field(default=None, description="The new membership.")
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="Problems.")


@strawberry.type(description="The result of `removeMember`.")
class RemoveMemberPayload:
    removed_member_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global id of the removed member."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list, description="Problems.")
