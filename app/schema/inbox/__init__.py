"""The inbox part of the schema: the change log, search, teams and routing."""

from app.schema.inbox.mutations import InboxMutation
from app.schema.inbox.queries import InboxQuery
from app.schema.inbox.subscriptions import InboxSubscription

__all__ = ["InboxMutation", "InboxQuery", "InboxSubscription"]
