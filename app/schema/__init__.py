"""The root schema: each domain contributes its Query/Mutation/Subscription types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry
from strawberry.tools import merge_types

from app.platform.errors import ErrorCodesExtension
from app.schema.accounts import AccountsMutation, AccountsQuery
from app.schema.ai import AIMutation, AIQuery, AISubscription
from app.schema.campaigns import CampaignsMutation, CampaignsQuery, CampaignsSubscription
from app.schema.executor import ParleyExecutor
from app.schema.inbox import InboxMutation, InboxQuery, InboxSubscription
from app.schema.input_checks import install as install_input_checks
from app.schema.integrations import IntegrationsMutation, IntegrationsQuery
from app.schema.limits import LimitsQuery
from app.schema.media import MediaMutation
from app.schema.messaging import (
    ConversationWorkMutation,
    ConversationWorkQuery,
    MessagingMutation,
    MessagingQuery,
    MessagingSubscription,
    ReportsQuery,
)
from app.schema.plans import PlansMutation, PlansQuery, PlansSubscription
from app.schema.system import SystemQuery

QUERY_TYPES: tuple[type, ...] = (
    SystemQuery,
    LimitsQuery,
    AccountsQuery,
    MessagingQuery,
    ConversationWorkQuery,
    ReportsQuery,
    AIQuery,
    CampaignsQuery,
    InboxQuery,
    PlansQuery,
    IntegrationsQuery,
)
MUTATION_TYPES: tuple[type, ...] = (
    AccountsMutation,
    MessagingMutation,
    ConversationWorkMutation,
    MediaMutation,
    AIMutation,
    CampaignsMutation,
    InboxMutation,
    PlansMutation,
    IntegrationsMutation,
)
SUBSCRIPTION_TYPES: tuple[type, ...] = (
    MessagingSubscription,
    AISubscription,
    CampaignsSubscription,
    InboxSubscription,
    PlansSubscription,
)


class ParleySchema(strawberry.Schema):
    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        # ErrorCodesExtension logs unexpected errors once, with their trace id.
        return None


def build_schema(
    extra_extensions: Sequence[Any] = (),
    extra_query_types: Sequence[type] = (),
    *,
    fast_executor: bool = True,
) -> strawberry.Schema:
    """The schema; ``fast_executor=False`` leaves execution to strawberry's stock executor
    (PARLEY_FAST_EXECUTOR), the way back should an upgrade break ParleyExecutor."""
    query = merge_types("Query", (*QUERY_TYPES, *extra_query_types))
    mutation = merge_types("Mutation", MUTATION_TYPES) if MUTATION_TYPES else None
    subscription = merge_types("Subscription", SUBSCRIPTION_TYPES) if SUBSCRIPTION_TYPES else None
    install_input_checks(query, mutation)
    return ParleySchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        extensions=[ErrorCodesExtension, *extra_extensions],
        execution_context_class=ParleyExecutor if fast_executor else None,
    )


schema = build_schema()
