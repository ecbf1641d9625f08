from __future__ import annotations

from enum import Enum
from typing import Any

from tortoise import fields

from app.models.base import TimestampedModel


class Role(str, Enum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    AGENT = "AGENT"
    VIEWER = "VIEWER"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_ROLE_RANK = {Role.VIEWER: 0, Role.AGENT: 1, Role.ADMIN: 2, Role.OWNER: 3}


class User(TimestampedModel):
    # The address the account signs in with. A registration holds a placeholder here until its
    # confirmation link claims the address it gave (``unconfirmed_email``): registering never
    # reveals whether an address already has an account (README, "Accounts and security").
    email = fields.CharField(max_length=254, unique=True)
    unconfirmed_email = fields.CharField(max_length=254, null=True)
    name = fields.CharField(max_length=200, default="")
    password_hash = fields.CharField(max_length=255, default="")
    is_staff = fields.BooleanField(default=False)
    is_active = fields.BooleanField(default=True)
    # The user an API key or a webhook acts as (app.integrations.service_users): no password,
    # not listed among the members.
    is_service = fields.BooleanField(default=False)
    email_verified_at = fields.DatetimeField(null=True)
    # Fernet-encrypted with the key from settings; set at enrolment, active once confirmed.
    totp_secret_encrypted = fields.CharField(max_length=400, null=True)
    totp_enabled_at = fields.DatetimeField(null=True)
    # The time step of the last TOTP code accepted: a code is refused unless its step is later.
    totp_last_step = fields.BigIntField(null=True)
    failed_logins = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)

    memberships: fields.ReverseRelation[Membership]

    class Meta:
        table = "users"

    @property
    def address(self) -> str:
        """The user's email address: the one signed in with, or the one awaiting confirmation."""
        return self.unconfirmed_email or self.email


class Organization(TimestampedModel):
    name = fields.CharField(max_length=200)
    # `{"timezone": "Europe/Rome", "hours": {"mon": "09:00-17:00", ...}, "note": "..."}`, as
    # app.ai.business_hours validates it; AI agents answer from it unless they have their own.
    business_hours: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)

    memberships: fields.ReverseRelation[Membership]

    class Meta:
        table = "organizations"


class Membership(TimestampedModel):
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE
    )
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="memberships", on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(Role, max_length=16)

    user_id: int
    organization_id: int

    class Meta:
        table = "memberships"
        unique_together = (("user", "organization"),)


class Session(TimestampedModel):
    """One sign-in: the family of refresh tokens born from one login, rotated on every use."""

    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    organization: fields.ForeignKeyNullableRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="sessions", null=True, on_delete=fields.SET_NULL
    )
    ip = fields.CharField(max_length=64, default="")
    user_agent = fields.CharField(max_length=400, default="")
    last_used_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True, index=True)
    revoked_reason = fields.CharField(max_length=32, default="")

    user_id: int
    organization_id: int | None

    class Meta:
        table = "sessions"


class RefreshToken(TimestampedModel):
    """A refresh token, stored only as its hash; ``used_at`` set once it has been rotated."""

    session: fields.ForeignKeyRelation[Session] = fields.ForeignKeyField(
        "models.Session", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    used_at = fields.DatetimeField(null=True)

    session_id: int

    class Meta:
        table = "refresh_tokens"


class TokenPurpose(str, Enum):
    CONFIRM_EMAIL = "CONFIRM_EMAIL"
    RESET_PASSWORD = "RESET_PASSWORD"
    INVITATION = "INVITATION"


class OneTimeToken(TimestampedModel):
    """Email confirmation, password reset and invitation tokens: hashed, expiring, single-use."""

    purpose = fields.CharEnumField(TokenPurpose, max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="one_time_tokens", null=True, on_delete=fields.CASCADE
    )
    organization: fields.ForeignKeyNullableRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="invitations", null=True, on_delete=fields.CASCADE
    )
    email = fields.CharField(max_length=254, default="")
    role = fields.CharEnumField(Role, max_length=16, null=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    user_id: int | None
    organization_id: int | None

    class Meta:
        table = "one_time_tokens"


class RecoveryCode(TimestampedModel):
    """A single-use MFA recovery code, stored only as its hash."""

    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="recovery_codes", on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=64)
    used_at = fields.DatetimeField(null=True)

    user_id: int

    class Meta:
        table = "recovery_codes"


class AuditEvent(TimestampedModel):
    """A security or administration event: logins, lockouts, token reuse, role changes."""

    kind = fields.CharField(max_length=48, index=True)
    organization: fields.ForeignKeyNullableRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="audit_events", null=True, on_delete=fields.CASCADE
    )
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="audit_events", null=True, on_delete=fields.SET_NULL
    )
    subject_user_id = fields.BigIntField(null=True)
    ip = fields.CharField(max_length=64, default="")
    data: dict[str, object] = fields.JSONField(default=dict)  # type: ignore[assignment]

    organization_id: int | None
    actor_id: int | None

    class Meta:
        table = "audit_events"
