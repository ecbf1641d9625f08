"""Signing up, signing in (lockout, MFA), and refresh token rotation with reuse detection."""

from __future__ import annotations

from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.accounts import passwords
from app.models.accounts import Membership, Organization, RecoveryCode, RefreshToken, Role, User
from app.platform.context import Info
from app.platform.ratelimit import enforce
from app.platform.security import decrypt_secret, hash_token, normalize_recovery_code, verify_totp
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.accounts.common import (
    TokenPair,
    audit,
    client_ip,
    invalid_credentials,
    next_pair,
    now,
    revoke_sessions,
    start_session,
    user_agent,
)
from app.resolvers.accounts.emails import send_confirmation
from app.resolvers.accounts.members import INVALID_INVITATION, join, open_invitation
from app.schema.accounts.payloads import AuthPayload
from app.schema.accounts.types import UserType

# Verified against when the email is unknown, so both answers take the same time.
_DUMMY_HASH = passwords.hash_password("parley-timing-equalizer")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        return str(error)
    return None


def _authenticated(pair: TokenPair, user: User) -> AuthPayload:
    return AuthPayload(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        user=UserType.from_model(user),
    )


async def register(
    info: Info,
    *,
    email: str,
    password: str,
    name: str,
    organization_name: str,
    invitation_token: str | None = None,
) -> AuthPayload:
    settings = info.context.settings
    await enforce(settings, settings.rate_limit_register_per_ip, "register", "ip", client_ip(info))
    passwords.configure_from(settings)
    email = normalize_email(email)
    errors: list[UserError] = []
    if problem := email_problem(email):
        errors.append(user_error("email", problem, UserErrorCode.INVALID))
    if problem := passwords.password_problem(password, email):
        errors.append(user_error("password", problem, UserErrorCode.INVALID))
    if not name.strip():
        errors.append(user_error("name", "Enter your name.", UserErrorCode.REQUIRED))
    invitation = None
    if invitation_token:
        invitation = await open_invitation(invitation_token, email)
        if invitation is None:
            errors.append(user_error("invitationToken", INVALID_INVITATION, UserErrorCode.INVALID))
    elif not organization_name.strip():
        errors.append(
            user_error("organizationName", "Name your organization.", UserErrorCode.REQUIRED)
        )
    if errors:
        return AuthPayload(user_errors=errors)
    try:
        async with in_transaction():
            user = await User.create(
                email=email,
                name=name.strip(),
                password_hash=passwords.hash_password(password),
                # The invitation link reached this address: that confirms it.
                email_verified_at=now() if invitation else None,
            )
            if invitation is not None:
                membership = await join(info, user, invitation)
                if membership is None:
                    raise _InvitationGone()
                organization_id = membership.organization_id
            else:
                organization = await Organization.create(name=organization_name.strip())
                await Membership.create(user=user, organization=organization, role=Role.OWNER)
                organization_id = organization.id
    except IntegrityError:
        return AuthPayload(
            user_errors=[
                user_error("email", "An account with this email exists.", UserErrorCode.TAKEN)
            ]
        )
    except _InvitationGone:
        # Used by a concurrent request between the check and the transaction.
        return AuthPayload(
            user_errors=[user_error("invitationToken", INVALID_INVITATION, UserErrorCode.INVALID)]
        )
    await audit(info, "USER_REGISTERED", actor_id=user.id, organization_id=organization_id)
    if invitation is None:
        await send_confirmation(info, user)
    return _authenticated(await start_session(info, user, organization_id), user)


class _InvitationGone(Exception):
    pass


async def login(info: Info, *, email: str, password: str, otp: str | None) -> AuthPayload:
    settings = info.context.settings
    email = normalize_email(email)
    ip = client_ip(info)
    await enforce(settings, settings.rate_limit_login_per_ip, "login", "ip", ip)
    await enforce(settings, settings.rate_limit_login_per_account, "login", "account", email)
    passwords.configure_from(settings)
    user = await User.get_or_none(email=email, is_active=True)
    if user is None:
        passwords.verify_password(_DUMMY_HASH, password)
        await audit(info, "LOGIN_FAILED", reason="unknown_email")
        return AuthPayload(user_errors=invalid_credentials())
    if user.locked_until is not None and user.locked_until > now():
        await audit(info, "LOGIN_REFUSED_LOCKED", subject_user_id=user.id)
        return AuthPayload(user_errors=invalid_credentials())
    if not passwords.verify_password(user.password_hash, password):
        await _count_failure(info, user, "wrong_password")
        return AuthPayload(user_errors=invalid_credentials())
    if user.totp_enabled_at is not None:
        if not otp:
            return AuthPayload(mfa_required=True)
        if not await _second_factor_ok(info, user, otp):
            await _count_failure(info, user, "wrong_otp")
            return AuthPayload(
                mfa_required=True,
                user_errors=[user_error("otp", "The code is not valid.", UserErrorCode.INVALID)],
            )
    user.failed_logins = 0
    user.locked_until = None
    update = ["failed_logins", "locked_until", "updated_at"]
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        update.append("password_hash")
    await user.save(update_fields=update)
    await audit(info, "LOGIN_SUCCEEDED", actor_id=user.id, user_agent=user_agent(info))
    return _authenticated(await start_session(info, user), user)


async def _count_failure(info: Info, user: User, reason: str) -> None:
    settings = info.context.settings
    user.failed_logins += 1
    await audit(info, "LOGIN_FAILED", subject_user_id=user.id, reason=reason)
    if user.failed_logins >= settings.lockout_threshold:
        user.failed_logins = 0
        user.locked_until = now() + timedelta(seconds=settings.lockout_seconds)
        await audit(info, "ACCOUNT_LOCKED", subject_user_id=user.id)
    await user.save(update_fields=["failed_logins", "locked_until", "updated_at"])


async def _second_factor_ok(info: Info, user: User, otp: str) -> bool:
    assert user.totp_secret_encrypted is not None
    secret = decrypt_secret(info.context.settings, user.totp_secret_encrypted)
    if verify_totp(secret, otp):
        return True
    code_hash = hash_token(normalize_recovery_code(otp))
    # The conditional update makes each recovery code single-use even under concurrent logins.
    used = await RecoveryCode.filter(user_id=user.id, code_hash=code_hash, used_at=None).update(
        used_at=now()
    )
    if used:
        await audit(info, "RECOVERY_CODE_USED", actor_id=user.id)
    return bool(used)


async def refresh(info: Info, *, refresh_token: str) -> AuthPayload:
    settings = info.context.settings
    await enforce(settings, settings.rate_limit_refresh_per_ip, "refresh", "ip", client_ip(info))
    invalid = AuthPayload(
        user_errors=[
            user_error(
                "refreshToken", "The refresh token is invalid or expired.", UserErrorCode.INVALID
            )
        ]
    )
    token = await RefreshToken.get_or_none(token_hash=hash_token(refresh_token)).select_related(
        "session"
    )
    if token is None:
        return invalid
    session = token.session
    if session.revoked_at is not None or session.expires_at <= now():
        return invalid
    rotated = await RefreshToken.filter(id=token.id, used_at=None).update(used_at=now())
    if not rotated:
        # A rotated token came back: it was stolen or replayed. End the whole family.
        await revoke_sessions(info, [session], "refresh_token_reuse")
        await audit(
            info, "REFRESH_TOKEN_REUSED", subject_user_id=session.user_id, session=session.id
        )
        return invalid
    user = await User.get_or_none(id=session.user_id, is_active=True)
    if user is None:
        return invalid
    session.last_used_at = now()
    session.ip = client_ip(info)
    session.user_agent = user_agent(info)
    await session.save(update_fields=["last_used_at", "ip", "user_agent", "updated_at"])
    return _authenticated(await next_pair(info, session), user)
