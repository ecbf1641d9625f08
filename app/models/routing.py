"""Teams and routing: who works which conversations, and the inbox's organization settings.

Kept beside the messaging tables rather than in them: a conversation's team, a device's team
and an agent's availability are routing facts, read by the router and a few fields.
"""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model

from app.models.accounts import Membership, Organization
from app.models.base import TimestampedModel
from app.models.messaging import Conversation, Device


class Availability(str, Enum):
    ONLINE = "ONLINE"
    AWAY = "AWAY"


class Team(TimestampedModel):
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)

    organization_id: int

    class Meta:
        table = "teams"
        unique_together = (("organization", "name"),)


class TeamMember(Model):
    id = fields.BigIntField(primary_key=True)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name="members", on_delete=fields.CASCADE
    )
    membership: fields.ForeignKeyRelation[Membership] = fields.ForeignKeyField(
        "models.Membership", related_name=False, on_delete=fields.CASCADE
    )

    team_id: int
    membership_id: int

    class Meta:
        table = "team_members"
        unique_together = (("team", "membership"),)


class AgentPresence(Model):
    """A member's availability for automatic assignment, and how many open conversations
    they may hold; no row: online, with the default capacity."""

    membership: fields.OneToOneRelation[Membership] = fields.OneToOneField(
        "models.Membership", related_name=False, on_delete=fields.CASCADE, primary_key=True
    )
    availability = fields.CharEnumField(Availability, max_length=8, default=Availability.ONLINE)
    capacity = fields.IntField(null=True)
    # Round-robin: the member assigned longest ago goes next.
    last_assigned_at = fields.DatetimeField(null=True)

    membership_id: int

    class Meta:
        table = "agent_presences"


class DeviceRoute(Model):
    """New conversations on this device go to this team."""

    device: fields.OneToOneRelation[Device] = fields.OneToOneField(
        "models.Device", related_name=False, on_delete=fields.CASCADE, primary_key=True
    )
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name=False, on_delete=fields.CASCADE
    )

    device_id: int
    team_id: int

    class Meta:
        table = "device_routes"


class ConversationRoute(Model):
    """A conversation's team, and when it last got the out-of-hours reply."""

    conversation: fields.OneToOneRelation[Conversation] = fields.OneToOneField(
        "models.Conversation", related_name=False, on_delete=fields.CASCADE, primary_key=True
    )
    team: fields.ForeignKeyNullableRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    away_replied_at = fields.DatetimeField(null=True)

    conversation_id: int
    team_id: int | None

    class Meta:
        table = "conversation_routes"


class InboxSettings(Model):
    """An organization's inbox settings; no row: the defaults."""

    organization: fields.OneToOneRelation[Organization] = fields.OneToOneField(
        "models.Organization", related_name=False, on_delete=fields.CASCADE, primary_key=True
    )
    # PostgreSQL text search configuration messages are indexed and searched with.
    search_language = fields.CharField(max_length=32, default="simple")
    # Sent (once per conversation per closed period) to customers who write out of hours.
    away_message = fields.TextField(null=True)
    # Default open conversations per agent for automatic assignment (null: unlimited).
    default_capacity = fields.IntField(null=True)

    organization_id: int

    class Meta:
        table = "inbox_settings"
