from __future__ import annotations

from enum import Enum

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
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200, default="")
    password_hash = fields.CharField(max_length=255, default="")
    is_staff = fields.BooleanField(default=False)
    is_active = fields.BooleanField(default=True)
    email_verified_at = fields.DatetimeField(null=True)

    memberships: fields.ReverseRelation[Membership]

    class Meta:
        table = "users"


class Organization(TimestampedModel):
    name = fields.CharField(max_length=200)

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
