"""The messaging part of the schema: devices, contacts, the inbox, messages, live events."""

from app.schema.messaging.inbox_mutations import ConversationWorkMutation
from app.schema.messaging.inbox_queries import ConversationWorkQuery
from app.schema.messaging.mutations import MessagingMutation
from app.schema.messaging.queries import MessagingQuery
from app.schema.messaging.reports import ReportsQuery
from app.schema.messaging.subscriptions import MessagingSubscription

__all__ = [
    "ConversationWorkMutation",
    "ConversationWorkQuery",
    "MessagingMutation",
    "MessagingQuery",
    "MessagingSubscription",
    "ReportsQuery",
]
