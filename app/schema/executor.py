"""The executor class strawberry hands to graphql-core.

graphql-core 3.3.2 builds each subscription event's executor as a shallow copy of the
subscription's executor, so every event shares one ``_relevant_sub_fields`` memo. The memo is
keyed on ``id()`` of per-event lists, so it never hits across events and grows by ~1.6 KB per
delivered event for as long as the subscription lives (+160 MB after 100,000 events). A fresh
memo per event bounds it and is faster. Upstream report: docs/graphql-core-subscription-memo-leak.md.
"""

from __future__ import annotations

from typing import Any

from graphql.execution.executor import Executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class ParleyExecutor(StrawberryGraphQLCoreExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Executor:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor
