"""Signing up, signing in (lockout, MFA), and refresh token rotation with reuse detection."""

from __future__ import annotations

import uuid

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.accounts import passwords
from app.accounts.addresses import email_problem, normalize_email
from app.models.accounts import Membership, OneTimeToken, Organization, RefreshToken, Role, User
from app.platform.clock import now
from app.platform.context import Info
from app.platform.ratelimit import enforce
from app.platform.security import hash_token
from app.platform.user_errors import UserError, UserErrorCode, user_error
from app.resolvers.accounts.common import (
    audit,
    client_ip,
    invalid_credentials,
    next_pair,
    revoke_sessions,
    user_agent,
)
from app.resolvers.accounts.emails import send_confirmation, send_mail
from app.resolvers.accounts.members import INVALID_INVITATION, join, open_invitation
from app.resolvers.accounts.signin import (
    SecondFactor,
    SignIn,
    count_failure,
    second_factor,
    sign_in,
    signed_in,
)

# Verified against when the email is unknown, so both answers take the same time.
_DUMMY_HASH = passwords.hash_password("parley-timing-equalizer")


def _placeholder_email() -> str:
    # Unique, and no address anyone can sign in with or receive mail at (RFC 2606 `.invalid`).
    return f"unconfirmed-{uuid.uuid4().hex}@parley.invalid"


async def register(
    info: Info,
    *,
    email: str,
    password: str,
    name: str,
    organization_name: str,
    invitation_token: str | None = None,
) -> SignIn:
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
        return SignIn(errors=errors)
    if invitation is not None:
        return await _register_invited(info, email, name, password, invitation)
    # The same answer whether or not the address has an account: a new account that holds the
    # address only once its confirmation link is used. The owner of a taken address gets a
    # warning instead of a link, so that account is never confirmed.
    taken = await User.exists(email=email)
    async with in_transaction():
        user = await User.create(
            email=_placeholder_email(),
            unconfirmed_email=email,
            name=name.strip(),
            password_hash=passwords.hash_password(password),
        )
        organization = await Organization.create(name=organization_name.strip())
        await Membership.create(user=user, organization=organization, role=Role.OWNER)
    await audit(info, "USER_REGISTERED", actor_id=user.id, organization_id=organization.id)
    if taken:
        await _warn_owner(info, email)
    else:
        await send_confirmation(info, user)
    return await sign_in(info, user, None, organization.id)


async def _register_invited(
    info: Info, email: str, name: str, password: str, invitation: OneTimeToken
) -> SignIn:
    """A new account that joins the invitation's organization; the link proved the address.

    Only the person the invitation was mailed to can learn here that the address is taken.
    """
    try:
        async with in_transaction():
            user = await User.create(
                email=email,
                name=name.strip(),
                password_hash=passwords.hash_password(password),
                email_verified_at=now(),
            )
            membership = await join(info, user, invitation)
            if membership is None:
                raise _InvitationGone()
    except IntegrityError:
        return SignIn(
            errors=[user_error("email", "An account with this email exists.", UserErrorCode.TAKEN)]
        )
    except _InvitationGone:
        # Used by a concurrent request between the check and the transaction.
        return SignIn(
            errors=[user_error("invitationToken", INVALID_INVITATION, UserErrorCode.INVALID)]
        )
    organization_id = membership.organization_id
    await audit(info, "USER_REGISTERED", actor_id=user.id, organization_id=organization_id)
    return await sign_in(info, user, None, organization_id)


async def _warn_owner(info: Info, email: str) -> None:
    settings = info.context.settings
    await send_mail(
        info,
        to=email,
        subject="Someone tried to sign up with your address",
        body="Someone tried to create a Parley account with this email address, which already "
        f"has one. If it was you, sign in at {settings.public_url}/login, or reset your "
        f"password at {settings.public_url}/forgot-password. Otherwise ignore this email: "
        "your account is unchanged.",
    )


class _InvitationGone(Exception):
    pass


async def login(info: Info, *, email: str, password: str, otp: str | None) -> SignIn:
    settings = info.context.settings
    email = normalize_email(email)
    ip = client_ip(info)
    await enforce(settings, settings.rate_limit_login_per_ip, "login", "ip", ip)
    await enforce(settings, settings.rate_limit_login_per_account, "login", "account", email)
    passwords.configure_from(settings)
    user = await User.get_or_none(email=email, is_active=True, unconfirmed_email=None)
    if user is None:
        passwords.verify_password(_DUMMY_HASH, password)
        await audit(info, "LOGIN_FAILED", reason="unknown_email")
        return SignIn(errors=invalid_credentials())
    if user.locked_until is not None and user.locked_until > now():
        await audit(info, "LOGIN_REFUSED_LOCKED", subject_user_id=user.id)
        return SignIn(errors=invalid_credentials())
    if not passwords.verify_password(user.password_hash, password):
        await count_failure(info, user, "wrong_password")
        return SignIn(errors=invalid_credentials())
    proof = await second_factor(info, user, otp)
    if not isinstance(proof, SecondFactor):
        return proof
    user.failed_logins = 0
    user.locked_until = None
    update = ["failed_logins", "locked_until", "updated_at"]
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
        update.append("password_hash")
    await user.save(update_fields=update)
    await audit(info, "LOGIN_SUCCEEDED", actor_id=user.id, user_agent=user_agent(info))
    return await signed_in(info, user, proof)


async def refresh(info: Info, *, refresh_token: str) -> SignIn:
    settings = info.context.settings
    await enforce(settings, settings.rate_limit_refresh_per_ip, "refresh", "ip", client_ip(info))
    invalid = SignIn(
        errors=[
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
    return SignIn(tokens=await next_pair(info, session), user=user)
