"""Webhook payloads: a webhook's subscription document executed over one outbox event.

The same schema, resolvers and per-event authorization as a WebSocket subscription: the
document runs as the webhook's service user (its organization and role), with the event handed
to the subscription's resolver instead of its Redis channel (``Context.replay``), so a payload
equals what the same document yields over WebSocket. The dispatcher
(``app.integrations.outbox``) runs each (document, role) once per event, however many webhooks
share it, as a live group runs once for all its members.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.types.execution import ExecutionResult
from strawberry.utils.aio import aclosing

from app.integrations import outbox
from app.integrations.outbox import Performer
from app.platform.context import Context, Viewer
from app.platform.runtime import Runtime
from app.platform.security import AccessClaims
from app.schema import build_schema

# A request-shaped stand-in: nothing a subscription selects reads the request.
_REQUEST = Request({"type": "http", "method": "POST", "path": "/webhooks", "headers": []})


class DocumentFailed(Exception):
    pass


class WebhookDocuments:
    def __init__(self, schema: Any = None) -> None:
        # Webhooks hold a few documents, each run for every event: parsed and validated once.
        self.schema = schema or build_schema(
            [ParserCache(maxsize=256), ValidationCache(maxsize=256)]
        )

    async def __call__(
        self, runtime: Runtime, query: str, performer: Performer, event: dict[str, Any]
    ) -> dict[str, Any] | None:
        membership = performer.membership
        claims = AccessClaims(
            user_id=performer.user.id,
            organization_id=membership.organization_id,
            jti=f"webhook-{performer.webhook_id}",
            expires_at=0,
            session_id=None,
        )
        context = Context(
            request=_REQUEST,
            response=None,
            runtime=runtime,
            viewer=Viewer(user=performer.user, claims=claims, membership=membership),
            replay=[event],
        )
        source = await self.schema.subscribe(query, context_value=context)
        if isinstance(source, ExecutionResult):  # refused before it ran
            raise DocumentFailed(_messages(source.errors))
        async with aclosing(source):
            async for result in source:
                if not isinstance(result, ExecutionResult) or result.errors:
                    raise DocumentFailed(_messages(getattr(result, "errors", None)))
                data: dict[str, Any] | None = result.data
                return data
        return None


def _messages(errors: list[GraphQLError] | None) -> str:
    return "; ".join(error.message for error in errors or ()) or "no result"


def install() -> None:
    """This process dispatches outbox events with the app's schema."""
    outbox.install_runner(WebhookDocuments())
