"""TOTP enrolment, confirmation (recovery codes) and removal."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from app.accounts import passwords
from app.models.accounts import RecoveryCode, User
from app.platform.clock import now
from app.platform.context import Info
from app.platform.security import (
    decrypt_secret,
    encrypt_secret,
    hash_token,
    new_recovery_code,
    new_totp_secret,
    normalize_recovery_code,
    totp_step,
    totp_uri,
)
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.accounts.common import audit
from app.resolvers.accounts.signin import accept_totp_step

RECOVERY_CODES = 10


def _wrong_password(field: str = "password") -> list[UserError]:
    return [user_error(field, "The password is not right.", UserErrorCode.INVALID)]


async def begin_enrollment(info: Info, *, password: str) -> tuple[str | None, list[UserError]]:
    """The otpauth URI of a new secret, which ``confirm_enrollment`` turns on."""
    viewer = info.context.viewer
    assert viewer is not None
    user = viewer.user
    passwords.configure_from(info.context.settings)
    if not passwords.verify_password(user.password_hash, password):
        return None, _wrong_password()
    if user.totp_enabled_at is not None:
        return None, [user_error(None, "TOTP is already on.", UserErrorCode.CONFLICT)]
    secret = new_totp_secret()
    user.totp_secret_encrypted = encrypt_secret(info.context.settings, secret)
    await user.save(update_fields=["totp_secret_encrypted", "updated_at"])
    return totp_uri(secret, email=user.address), []


async def confirm_enrollment(info: Info, *, otp: str) -> tuple[list[str] | None, list[UserError]]:
    """TOTP on, and its recovery codes (shown only this once)."""
    viewer = info.context.viewer
    assert viewer is not None
    user = viewer.user
    if user.totp_enabled_at is not None or user.totp_secret_encrypted is None:
        return None, [user_error(None, "Call beginTotpEnrollment first.", UserErrorCode.CONFLICT)]
    secret = decrypt_secret(info.context.settings, user.totp_secret_encrypted)
    step = totp_step(secret, otp)
    # The step is remembered from here on, so the enrolment code cannot sign in after it.
    if step is None or not await accept_totp_step(user, step):
        return None, [user_error("otp", "The code is not valid.", UserErrorCode.INVALID)]
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    async with in_transaction():
        await RecoveryCode.filter(user_id=user.id).delete()
        await RecoveryCode.bulk_create(
            [
                RecoveryCode(user_id=user.id, code_hash=hash_token(normalize_recovery_code(code)))
                for code in codes
            ]
        )
        user.totp_enabled_at = now()
        await user.save(update_fields=["totp_enabled_at", "updated_at"])
    await audit(info, "MFA_ENABLED", actor_id=user.id)
    return codes, []


async def disable(info: Info, *, password: str) -> tuple[User | None, list[UserError]]:
    viewer = info.context.viewer
    assert viewer is not None
    user = viewer.user
    passwords.configure_from(info.context.settings)
    if not passwords.verify_password(user.password_hash, password):
        return None, _wrong_password()
    async with in_transaction():
        await RecoveryCode.filter(user_id=user.id).delete()
        user.totp_enabled_at = None
        user.totp_secret_encrypted = None
        user.totp_last_step = None
        await user.save(
            update_fields=[
                "totp_enabled_at",
                "totp_secret_encrypted",
                "totp_last_step",
                "updated_at",
            ]
        )
    await audit(info, "MFA_DISABLED", actor_id=user.id)
    return user, []
