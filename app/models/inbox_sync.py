"""The inbox's change log: every change an inbox shows, numbered per organization.

``InboxSequence`` holds each organization's last number; ``InboxChange`` the changes, keyed by
(organization, seq). Numbers are taken by an ``UPDATE ... RETURNING`` of the organization's
sequence row in the same transaction that inserts the changes (``app.inbox.sync``): the row
lock is held until commit, so changes commit in the order of their numbers and a reader that
sees number n can never later see a number below n appear.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class InboxSequence(Model):
    organization_id = fields.BigIntField(primary_key=True)
    last_seq = fields.BigIntField(default=0)
    # Changes up to this number were pruned: a cursor before it has lost changes.
    pruned_through = fields.BigIntField(default=0)

    class Meta:
        table = "inbox_sequences"


class InboxChange(Model):
    # Plain ids, not foreign keys: a change outlives nothing, and is written after the
    # change it records committed (a row deleted since must not refuse its change).
    id = fields.BigIntField(primary_key=True)
    organization_id = fields.BigIntField()
    seq = fields.BigIntField()
    kind = fields.CharField(max_length=32)
    conversation_id = fields.BigIntField(null=True)
    message_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "inbox_changes"
        unique_together = (("organization_id", "seq"),)
        indexes = (Index(fields=("created_at",)),)
