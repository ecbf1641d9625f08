"""The messaging part of the schema: devices, contacts, the inbox, messages, live events."""

from app.schema.messaging.mutations import MessagingMutation
from app.schema.messaging.queries import MessagingQuery
from app.schema.messaging.subscriptions import MessagingSubscription

__all__ = ["MessagingMutation", "MessagingQuery", "MessagingSubscription"]
