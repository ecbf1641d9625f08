"""Tracing with OpenTelemetry, configured by the standard ``OTEL_*`` variables.

Off unless an exporter is named: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or its ``_TRACES_`` form), or
``OTEL_TRACES_EXPORTER=otlp|console``; ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none``
keep it off. Off, nothing is instrumented and every helper here returns after one boolean test;
the SDK, the exporter and the instrumentations are imported only when it is on.

On, spans come from: the HTTP edge (``app.http.tracing``), GraphQL operations and the resolvers
strawberry's chain runs, SQL through asyncpg, Redis commands, outbound httpx requests (the Graph
API transport, the AI endpoint's client), and every SAQ job, whose span continues the trace of
the code that enqueued it (a W3C ``traceparent`` in the job's ``meta``). A status webhook
continues the trace of the send it reports on: the send remembers its context in Redis under
the provider's message id for a day.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from redis.exceptions import RedisError

if TYPE_CHECKING:
    import httpx
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

tracer = trace.get_tracer("parley")

# How long a send's trace context is kept for its status webhooks.
SEND_CONTEXT_SECONDS = 86_400

_state: dict[str, Any] = {"enabled": False, "provider": None}


def enabled() -> bool:
    return bool(_state["enabled"])


def wanted(environ: dict[str, str] | None = None) -> bool:
    """Whether the OTEL_* variables ask for traces."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(
        exporter
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(service_name: str, exporter: SpanExporter | None = None) -> bool:
    """Start tracing when the environment asks for it (or ``exporter`` is given: tests).
    True when tracing is on. The tracer provider is made once per process."""
    if _state["enabled"] and exporter is None:
        return True
    if exporter is None and not wanted():
        return False
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider: TracerProvider | None = _state["provider"]
    if provider is None:
        provider = _provider(service_name)
        trace.set_tracer_provider(provider)
        if exporter is None:
            for named in _exporters():
                provider.add_span_processor(BatchSpanProcessor(named))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    if not _state["enabled"]:
        _instrument(provider)
    _state.update(enabled=True, provider=provider)
    return True


def _provider(service_name: str) -> TracerProvider:
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service_name)})
    return TracerProvider(resource=resource, sampler=_sampler())


def flush_tracing() -> None:
    """Export what is buffered: a stopping process's last spans."""
    provider: TracerProvider | None = _state["provider"]
    if provider is not None:
        provider.force_flush()


def stop_tracing() -> None:
    """Flush, then stop the instrumentations (tests turn tracing off again with it)."""
    if not _state["enabled"]:
        return
    flush_tracing()
    _uninstrument()
    _state.update(enabled=False)


def _exporters() -> list[SpanExporter]:
    names = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")
    exporters: list[SpanExporter] = []
    for name in (n.strip() for n in names):
        if name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        elif name in ("otlp", ""):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
    return exporters


def _sampler() -> Any:
    from opentelemetry.sdk.trace.sampling import (
        ALWAYS_ON,
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
        TraceIdRatioBased,
    )

    ratio = os.environ.get("OTEL_TRACES_SAMPLER_ARG")
    root: Sampler = TraceIdRatioBased(float(ratio)) if ratio else ALWAYS_ON

    class NoOrphanClientCalls(Sampler):
        """A Redis or SQL call outside any request or job (SAQ's polling, the broker's
        listener) would be a trace of its own every second: those are dropped."""

        def should_sample(self, parent_context, trace_id, name, kind=None, *args, **kwargs):  # type: ignore[no-untyped-def]
            if kind is SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            return root.should_sample(parent_context, trace_id, name, kind, *args, **kwargs)

        def get_description(self) -> str:
            return f"NoOrphanClientCalls({root.get_description()})"

    return ParentBased(root=NoOrphanClientCalls())


def _instrument(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    AsyncPGInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    # httpx's own transports (the AI endpoint's client, anything built with httpx defaults).
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _trace_graph_transport()


def _uninstrument() -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (AsyncPGInstrumentor(), RedisInstrumentor(), HTTPXClientInstrumentor()):
        instrumentor.uninstrument()
    from app.whatsapp.transport import GraphTransport

    original = getattr(GraphTransport.handle_async_request, "__wrapped__", None)
    if original is not None:
        GraphTransport.handle_async_request = original  # type: ignore[method-assign]


def _trace_graph_transport() -> None:
    """The Graph API's transport is our own (app/whatsapp/transport.py), which httpx's
    instrumentation does not see: each request gets a client span and a ``traceparent``."""
    from app.whatsapp.transport import GraphTransport

    original = GraphTransport.handle_async_request

    async def handle_async_request(self: Any, request: httpx.Request) -> httpx.Response:
        url = request.url
        with tracer.start_as_current_span(
            f"{request.method} {url.host}",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": request.method,
                "server.address": url.host,
                "url.path": url.path,
            },
        ) as span:
            propagate.inject(request.headers)
            response = await original(self, request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 400:
                span.set_status(Status(StatusCode.ERROR))
            return response

    handle_async_request.__wrapped__ = original  # type: ignore[attr-defined]
    GraphTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]


# --- jobs ----------------------------------------------------------------------------------


def job_meta() -> dict[str, str] | None:
    """The current trace context as a job's ``meta`` (None when tracing is off)."""
    if not _state["enabled"]:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier or None


async def job_started(ctx: Any) -> None:
    """SAQ's before_process hook: the job's span, a child of the enqueuer's context. The
    job's function runs in a task made after this hook, so it inherits the span."""
    if not _state["enabled"]:
        return
    job = ctx.get("job")
    if job is None:
        return
    parent = propagate.extract(job.meta or {})
    span = tracer.start_span(
        f"job {job.function}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "saq",
            "messaging.destination.name": job.queue.name if job.queue else "",
            "saq.job.key": job.key,
            "saq.job.attempt": job.attempts,
        },
    )
    ctx["otel_token"] = otel_context.attach(trace.set_span_in_context(span, parent))
    ctx["otel_span"] = span


async def job_finished(ctx: Any) -> None:
    """SAQ's after_process hook: ends the job's span, marked failed with the job's error."""
    span = ctx.pop("otel_span", None)
    if span is None:
        return
    error = ctx.get("exception")
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end()
    token = ctx.pop("otel_token", None)
    if token is not None:
        with contextlib.suppress(ValueError):  # attached in another context: nothing to undo
            otel_context.detach(token)


# --- a send and its status webhooks --------------------------------------------------------


def _send_key(provider_message_id: str) -> str:
    return f"parley:trace:send:{provider_message_id}"


async def remember_send(redis: aioredis.Redis, provider_message_ids: Sequence[str]) -> None:
    """Keep the current trace context for the status webhooks of these sends."""
    if not _state["enabled"] or not provider_message_ids:
        return
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    traceparent = carrier.get("traceparent")
    if traceparent is None:
        return
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for provider_message_id in provider_message_ids:
                pipe.set(_send_key(provider_message_id), traceparent, ex=SEND_CONTEXT_SECONDS)
            await pipe.execute()
    except (RedisError, OSError):
        return  # tracing never fails the work it traces: the statuses start their own trace


@contextlib.asynccontextmanager
async def continuing_send(
    redis: aioredis.Redis, provider_message_id: str, name: str, **attributes: Any
) -> AsyncIterator[None]:
    """A span in the trace of the send of ``provider_message_id`` (linked to the current
    one, the webhook's), or in the current trace when the send left no context."""
    if not _state["enabled"]:
        yield
        return
    try:
        traceparent = await redis.get(_send_key(provider_message_id))
    except (RedisError, OSError):
        traceparent = None
    current = trace.get_current_span().get_span_context()
    links = [trace.Link(current)] if current.is_valid else []
    parent = None
    if traceparent is not None:
        value = traceparent.decode() if isinstance(traceparent, bytes) else str(traceparent)
        parent = propagate.extract({"traceparent": value})
    with tracer.start_as_current_span(
        name, context=parent, links=links if parent is not None else None, attributes=attributes
    ):
        yield
