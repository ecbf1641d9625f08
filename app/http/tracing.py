"""Spans of the HTTP edge when tracing is on (app.platform.telemetry): one per HTTP request,
one per GraphQL operation (its name, type and cost), and one per resolver that strawberry's
chain runs.

The fast executor (app/schema/executor.py) calls plain leaf fields and plain sync resolvers
directly, without strawberry's extensions: those never touch I/O, so they get no span of their
own. Resolvers that do (async ones, and any with permission classes) keep strawberry's chain
and so get one; their SQL, Redis and Graph API calls are their children.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension


class GraphQLTracing(OpenTelemetryExtension):
    """strawberry's OpenTelemetry extension, without resolver arguments (message texts,
    phone numbers, passwords are no trace attributes), and with the operation's cost."""

    def __init__(self, *, execution_context: Any = None) -> None:
        super().__init__(execution_context=execution_context, arg_filter=_no_arguments)

    def on_operation(self) -> Generator[None, None, None]:
        operation = super().on_operation()
        next(operation)
        yield
        span = self._span_holder.get(LifecycleStep.OPERATION)
        if span is not None:
            context = self.execution_context
            span.set_attribute("graphql.operation.name", context.operation_name or "")
            operation_type = getattr(context, "operation_type", None)
            if operation_type is not None:
                span.set_attribute("graphql.operation.type", operation_type.value)
            cost = getattr(context.context, "cost", None)
            if isinstance(cost, dict) and "requestedQueryCost" in cost:
                span.set_attribute("graphql.cost.requested", cost["requestedQueryCost"])
        next(operation, None)


def _no_arguments(arguments: dict[str, Any], info: Any) -> dict[str, Any]:
    return {}


class HTTPTracing:
    """A span per HTTP request (OpenTelemetry's ASGI middleware, W3C ``traceparent`` read
    from the caller). WebSocket connections live for hours: their operations are traced one by
    one by the GraphQL extension instead of as one connection-long span."""

    def __init__(self, app: ASGIApp) -> None:
        # Imported only with tracing on: the instrumentation costs ~0.4 s of start-up.
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        self.app = app
        self.traced = OpenTelemetryMiddleware(app, exclude_spans=["receive", "send"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.traced(scope, receive, send)
        else:
            await self.app(scope, receive, send)
