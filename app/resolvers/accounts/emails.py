"""Email confirmation, password reset and password change; the tokens are hashed and single-use."""

from __future__ import annotations

from datetime import timedelta

from tortoise.exceptions import IntegrityError

from app.accounts import mail, passwords
from app.accounts.addresses import normalize_email
from app.models.accounts import OneTimeToken, Role, Session, TokenPurpose, User
from app.platform.clock import now
from app.platform.context import Info
from app.platform.ratelimit import enforce
from app.platform.security import hash_token, new_opaque_token
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.accounts.common import audit, client_ip, revoke_all_sessions, revoke_sessions
from app.resolvers.accounts.signin import SecondFactor, SignIn, second_factor, signed_in


async def issue_token(
    info: Info,
    purpose: TokenPurpose,
    ttl_seconds: int,
    *,
    user_id: int | None = None,
    organization_id: int | None = None,
    email: str = "",
    role: Role | None = None,
) -> str:
    token = new_opaque_token()
    await OneTimeToken.create(
        purpose=purpose,
        token_hash=hash_token(token),
        expires_at=now() + timedelta(seconds=ttl_seconds),
        user_id=user_id,
        organization_id=organization_id,
        email=email,
        role=role,
    )
    return token


async def consume_token(token: str, purpose: TokenPurpose) -> OneTimeToken | None:
    """The token's row, marked used; ``None`` when unknown, expired or already used."""
    row = await OneTimeToken.get_or_none(token_hash=hash_token(token), purpose=purpose)
    return await consume_token_row(row) if row is not None else None


async def consume_token_row(row: OneTimeToken) -> OneTimeToken | None:
    """Mark ``row`` used; ``None`` when expired or already used (by a concurrent request too)."""
    if row.used_at is not None or row.expires_at <= now():
        return None
    used = await OneTimeToken.filter(id=row.id, used_at=None).update(used_at=now())
    return row if used else None


async def send_mail(info: Info, *, to: str, subject: str, body: str) -> None:
    await mail.queue_mail(info.context.runtime, to=to, subject=subject, body=body)


async def send_confirmation(info: Info, user: User) -> None:
    settings = info.context.settings
    token = await issue_token(
        info, TokenPurpose.CONFIRM_EMAIL, settings.email_token_ttl_seconds, user_id=user.id
    )
    link = f"{settings.public_url}/confirm-email?token={token}"
    await send_mail(
        info,
        to=user.address,
        subject="Confirm your email address",
        body=f"Welcome to Parley! Confirm your email address: {link}",
    )


async def confirm_email(info: Info, *, token: str) -> tuple[User | None, list[UserError]]:
    row = await consume_token(token, TokenPurpose.CONFIRM_EMAIL)
    user = await User.get_or_none(id=row.user_id) if row and row.user_id else None
    if user is None:
        return None, [user_error("token", "The link is invalid or expired.", UserErrorCode.INVALID)]
    update = ["email_verified_at", "updated_at"]
    if user.unconfirmed_email is not None:
        # A new account claims its address now; until this link it could not sign in with it.
        user.email, user.unconfirmed_email = user.unconfirmed_email, None
        update += ["email", "unconfirmed_email"]
    user.email_verified_at = user.email_verified_at or now()
    try:
        await user.save(update_fields=update)
    except IntegrityError:
        # Another registration of the address was confirmed first; only its owner reads this.
        return None, [
            user_error(
                "token",
                "This address already has an account: sign in, or reset its password.",
                UserErrorCode.TAKEN,
            )
        ]
    await audit(info, "EMAIL_CONFIRMED", actor_id=user.id)
    return user, []


async def request_password_reset(info: Info, *, email: str) -> None:
    settings = info.context.settings
    email = normalize_email(email)
    ip = client_ip(info)
    await enforce(settings, settings.rate_limit_password_reset_per_ip, "reset", "ip", ip)
    await enforce(
        settings, settings.rate_limit_password_reset_per_account, "reset", "account", email
    )
    user = await User.get_or_none(email=email, is_active=True, unconfirmed_email=None)
    if user is not None:
        token = await issue_token(
            info, TokenPurpose.RESET_PASSWORD, settings.password_reset_ttl_seconds, user_id=user.id
        )
        link = f"{settings.public_url}/reset-password?token={token}"
        await send_mail(
            info,
            to=user.email,
            subject="Reset your password",
            body=f"Someone asked to reset your Parley password. If it was you: {link}",
        )
        await audit(info, "PASSWORD_RESET_REQUESTED", subject_user_id=user.id)


async def reset_password(
    info: Info, *, token: str, password: str, otp: str | None = None
) -> SignIn:
    """A new password from a reset link, then a session: with MFA on, only with ``otp``.

    Without a valid code nothing changes and the link stays usable, so the email alone neither
    signs an MFA account in nor changes its password.
    """
    passwords.configure_from(info.context.settings)
    row = await OneTimeToken.get_or_none(
        token_hash=hash_token(token), purpose=TokenPurpose.RESET_PASSWORD
    )
    usable = row is not None and row.used_at is None and row.expires_at > now()
    user = await User.get_or_none(id=row.user_id) if row and row.user_id and usable else None
    if user is not None and (problem := passwords.password_problem(password, user.email)):
        return SignIn(errors=[user_error("password", problem, UserErrorCode.INVALID)])
    if user is None:
        return _invalid_link()
    proof = await second_factor(info, user, otp)
    if not isinstance(proof, SecondFactor):
        return proof
    assert row is not None
    if await consume_token_row(row) is None:
        return _invalid_link()
    user.password_hash = passwords.hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    await user.save(update_fields=["password_hash", "failed_logins", "locked_until", "updated_at"])
    await revoke_all_sessions(info, user.id, "password_reset")
    await audit(info, "PASSWORD_RESET", actor_id=user.id)
    return await signed_in(info, user, proof)


def _invalid_link() -> SignIn:
    return SignIn(
        errors=[user_error("token", "The link is invalid or expired.", UserErrorCode.INVALID)]
    )


async def change_password(
    info: Info, *, current_password: str, new_password: str
) -> tuple[User | None, list[UserError]]:
    viewer = info.context.viewer
    assert viewer is not None
    user = viewer.user
    passwords.configure_from(info.context.settings)
    if not passwords.verify_password(user.password_hash, current_password):
        return None, [
            user_error("currentPassword", "The password is not right.", UserErrorCode.INVALID)
        ]
    if problem := passwords.password_problem(new_password, user.address):
        return None, [user_error("newPassword", problem, UserErrorCode.INVALID)]
    user.password_hash = passwords.hash_password(new_password)
    await user.save(update_fields=["password_hash", "updated_at"])
    # Every other session ends; the one making the change stays signed in.
    others = await Session.filter(user_id=user.id, revoked_at=None).exclude(
        id=viewer.claims.session_id or 0
    )
    await revoke_sessions(info, list(others), "password_changed")
    await audit(info, "PASSWORD_CHANGED", actor_id=user.id)
    return user, []
