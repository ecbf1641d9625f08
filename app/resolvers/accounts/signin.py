"""Issuing a session: the second factor every token-issuing path must pass first.

``start_session`` takes a ``SecondFactor``, which only ``second_factor`` makes: login, password
reset and registration alike cannot sign an MFA account in without its code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from tortoise.expressions import Q

from app.models.accounts import RecoveryCode, User
from app.platform.clock import now
from app.platform.context import Info
from app.platform.security import decrypt_secret, hash_token, normalize_recovery_code, totp_step
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.accounts.common import SecondFactor, TokenPair, audit, start_session


@dataclass(frozen=True, slots=True)
class SignIn:
    """The answer of a mutation that signs in: a session's tokens and its user, or why not.

    ``mfa_required`` without tokens asks for the second factor; the schema shapes this into an
    ``AuthPayload``.
    """

    tokens: TokenPair | None = None
    user: User | None = None
    mfa_required: bool = False
    errors: list[UserError] = field(default_factory=list)


async def second_factor(info: Info, user: User, otp: str | None) -> SecondFactor | SignIn:
    """A ``SecondFactor`` for ``user``, or the answer that asks for it (``mfaRequired``).

    A wrong code counts towards the lockout like a wrong password; a locked account's codes are
    not even checked.
    """
    if user.totp_enabled_at is None:
        return SecondFactor(user.id)
    if not otp:
        return SignIn(mfa_required=True)
    if _locked(user) or not await _code_ok(info, user, otp):
        await count_failure(info, user, "wrong_otp")
        return SignIn(
            mfa_required=True,
            errors=[user_error("otp", "The code is not valid.", UserErrorCode.INVALID)],
        )
    return SecondFactor(user.id)


async def sign_in(
    info: Info, user: User, otp: str | None, organization_id: int | None = None
) -> SignIn:
    """A session for ``user``, who proved who they are, once the second factor passes too."""
    proof = await second_factor(info, user, otp)
    if not isinstance(proof, SecondFactor):
        return proof
    return await signed_in(info, user, proof, organization_id)


async def signed_in(
    info: Info, user: User, proof: SecondFactor, organization_id: int | None = None
) -> SignIn:
    """A new session for ``user`` and the answer that hands its tokens over."""
    return SignIn(tokens=await start_session(info, user, proof, organization_id), user=user)


def _locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > now()


async def count_failure(info: Info, user: User, reason: str) -> None:
    settings = info.context.settings
    user.failed_logins += 1
    await audit(info, "LOGIN_FAILED", subject_user_id=user.id, reason=reason)
    if user.failed_logins >= settings.lockout_threshold:
        user.failed_logins = 0
        user.locked_until = now() + timedelta(seconds=settings.lockout_seconds)
        await audit(info, "ACCOUNT_LOCKED", subject_user_id=user.id)
    await user.save(update_fields=["failed_logins", "locked_until", "updated_at"])


async def _code_ok(info: Info, user: User, otp: str) -> bool:
    assert user.totp_secret_encrypted is not None
    secret = decrypt_secret(info.context.settings, user.totp_secret_encrypted)
    step = totp_step(secret, otp)
    if step is not None:
        if await accept_totp_step(user, step):
            return True
        await audit(info, "OTP_REPLAY_REFUSED", subject_user_id=user.id)
        return False
    code_hash = hash_token(normalize_recovery_code(otp))
    # The conditional update makes each recovery code single-use even under concurrent logins.
    used = await RecoveryCode.filter(user_id=user.id, code_hash=code_hash, used_at=None).update(
        used_at=now()
    )
    if used:
        await audit(info, "RECOVERY_CODE_USED", actor_id=user.id)
    return bool(used)


async def accept_totp_step(user: User, step: int) -> bool:
    """Record ``step`` as the user's last accepted TOTP step; ``False`` when it is not later
    than one accepted before (a replayed code), also against a concurrent request."""
    accepted = await User.filter(
        Q(totp_last_step=None) | Q(totp_last_step__lt=step), id=user.id
    ).update(totp_last_step=step)
    if accepted:
        user.totp_last_step = step
    return bool(accepted)
