"""The Starlette application: GraphQL over HTTP and WebSocket, webhooks, health, metrics."""

from __future__ import annotations

import contextlib
import gc
import hmac
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from typing import Any

import structlog
from graphql import ASTValidationRule
from graphql.validation import NoSchemaIntrospectionCustomRule
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from strawberry.extensions import AddValidationRules, SchemaExtension
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app import reactions
from app.cost import QueryCostExtension
from app.cost.budget import CostBudgetExtension
from app.documents.limits import (
    DocumentGate,
    DocumentLimits,
    alias_limit,
    depth_limit,
)
from app.documents.persisted import PersistedDocuments, RegisterPersistedQuery, TrustedDocumentsOnly
from app.http import graphiql, health
from app.http.admin_queues import admin_routes
from app.http.billing import billing_subscription
from app.http.graphql import GraphQLView, RefuseBadCredentials
from app.http.media import serve_media
from app.http.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from app.http.origins import AllowedOrigins, WebSocketOriginMiddleware
from app.http.outages import StoreOutageMiddleware
from app.http.request_limits import RequestLimitMiddleware
from app.http.tracing import GraphQLTracing, HTTPTracing
from app.http.web import WebApp
from app.http.webhooks import whatsapp_webhook
from app.integrations import delivery as webhook_delivery
from app.integrations import outbox
from app.live import webhooks as webhook_documents
from app.media import links
from app.messaging.intake import Intake
from app.platform import metrics as business_metrics
from app.platform import telemetry
from app.platform.config import Settings, get_settings
from app.platform.logging import configure_logging
from app.platform.runtime import start_runtime
from app.schema import build_schema
from app.workers.process import in_process_workers

log = structlog.get_logger("parley.app")


class BindLogContext(SchemaExtension):
    """Puts the operation name and the user id on every log line of the operation."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        viewer = getattr(context, "viewer", None)
        structlog.contextvars.bind_contextvars(
            operation=self.execution_context.operation_name,
            user_id=viewer.user.id if viewer is not None else None,
        )
        yield


def document_gate(settings: Settings) -> DocumentGate:
    return DocumentGate(
        max_bytes=settings.graphql_max_document_bytes,
        max_tokens=settings.graphql_max_tokens,
        max_tokens_anonymous=settings.graphql_max_tokens_anonymous,
        max_selections=settings.graphql_max_selections,
        max_variable_values=settings.graphql_max_variable_values,
        max_variable_values_anonymous=settings.graphql_max_variable_values_anonymous,
        max_variable_characters_anonymous=settings.graphql_max_variable_characters_anonymous,
        cache_size=settings.document_cache_size,
    )


def schema_extensions(
    settings: Settings,
    persisted_documents: PersistedDocuments | None = None,
    gate: DocumentGate | None = None,
) -> list[Any]:
    """The schema's extensions, as classes or factories (one instance per operation)."""
    extensions: list[Any] = [BindLogContext, RefuseBadCredentials]
    if telemetry.enabled():
        extensions.insert(0, GraphQLTracing)
    # Made once: the parse and validation cache lives in it.
    gate = gate or document_gate(settings)
    # The rule classes are made once: the validation cache is keyed by them.
    rules: list[type[ASTValidationRule]] = [
        depth_limit(settings.graphql_max_depth),
        alias_limit(settings.graphql_max_aliases),
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions += [
        lambda: AddValidationRules(rules),
        # Parsing and validation depend on the text alone; cost is computed per request
        # (on execute), from the variables too.
        lambda: DocumentLimits(gate),
    ]
    if persisted_documents is not None and persisted_documents.trusted_only:
        extensions.append(lambda: TrustedDocumentsOnly(persisted_documents))
    elif persisted_documents is not None:
        # After validation: only a document that parsed and validated is registered.
        extensions.append(lambda: RegisterPersistedQuery(persisted_documents))
    if settings.cost_analysis:
        maximum = settings.query_max_cost
        extensions += [lambda: QueryCostExtension(maximum=maximum), CostBudgetExtension]
    return extensions


async def metrics(request: Request) -> Response:
    """Prometheus text. With PARLEY_METRICS_TOKEN, for `Authorization: Bearer <token>`;
    without, for loopback clients only (a scraper on the host or a sidecar)."""
    settings: Settings = request.app.state.runtime.settings
    if settings.metrics_token is not None:
        expected = f"Bearer {settings.metrics_token.get_secret_value()}"
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return Response("Forbidden\n", status_code=403, media_type="text/plain")
    elif request.client is None or request.client.host not in ("127.0.0.1", "::1", "localhost"):
        return Response("Forbidden\n", status_code=403, media_type="text/plain")
    await business_metrics.refresh_store_gauges(request.app.state.runtime.queues)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_app(
    settings: Settings | None = None,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    extra_query_types: Sequence[type] = (),
) -> Starlette:
    settings = settings or get_settings()
    configure_logging(json_lines=settings.json_logs, level=settings.log_level)
    telemetry.configure_tracing("parley-api")
    reactions.install()
    webhook_documents.install()
    persisted_documents = PersistedDocuments.from_settings(settings)
    gate = document_gate(settings)
    schema = build_schema(
        schema_extensions(settings, persisted_documents, gate),
        extra_query_types,
        fast_executor=settings.fast_executor,
    )
    if settings.graphql_batching:
        schema.config.batching_config = {"max_operations": settings.graphql_batching_max_operations}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        workers = (
            in_process_workers(settings.worker_concurrency) if settings.worker_in_process else None
        )
        async with start_runtime(settings, workers=workers) as runtime:
            app.state.runtime = runtime
            app.state.webhook_intake = Intake(runtime.queues)
            graphql.runtime = runtime
            await outbox.attach(runtime)
            log.info("started", env=settings.env, embedded_redis=settings.embedded_redis)
            # What start-up made (modules, the schema, pools) lives as long as the process:
            # out of the collector's sight, every collection of a request's garbage is
            # cheaper (about a tenth of the CPU of a large read). A large read allocates
            # ~100,000 short-lived objects: collecting the youngest generation every 20,000
            # allocations instead of every 700 spends a few MB to save a few % of CPU.
            gc.freeze()
            gc.set_threshold(20_000, 10, 10)
            # A large new document is parsed in a worker thread (app/documents/limits.py): the
            # event loop gets the GIL back within 1 ms instead of Python's default 5 ms.
            sys.setswitchinterval(0.001)
            yield
            await graphql.close_live()
            telemetry.flush_tracing()
            await outbox.detach(runtime)
            await webhook_delivery.close_client()

    graphql = GraphQLView(
        schema,
        runtime=None,  # type: ignore[arg-type]  # set by the lifespan before any request
        persisted_documents=persisted_documents,
        document_gate=gate,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        keep_alive=True,
        keep_alive_interval=settings.ws_keepalive_seconds,
        connection_init_wait_timeout=timedelta(seconds=settings.ws_connection_init_timeout_seconds),
        # importContacts takes a CSV file. Credentials travel in the Authorization header,
        # never a cookie, so a cross-site form cannot forge an upload (strawberry's concern).
        multipart_uploads_enabled=True,
        # WebSocketOriginMiddleware decides, on the same origins as CORS (the development
        # default is a pattern, which strawberry's exact list cannot express).
        allowed_origins=["*"],
    )
    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/health", health.health),
        Route("/health/live", health.live),
        Route("/health/ready", health.ready),
        Route("/metrics", metrics),
        Route("/webhooks/whatsapp/{device_id}", whatsapp_webhook, methods=["GET", "POST"]),
        Route("/billing/subscription", billing_subscription, methods=["POST"]),
        Route(links.ROUTE, serve_media, methods=["GET", "HEAD"]),
        *admin_routes(),
        *extra_routes,
    ]
    if settings.graphiql_enabled:
        routes.append(Mount(graphiql.ASSETS_PATH, app=graphiql.asset_files()))
    if settings.web_dist is not None:
        routes += WebApp(settings.web_dist).routes()
    app = Starlette(routes=routes, lifespan=lifespan)
    # Added innermost first. CORS wraps the request limit so that a 429 can be read (and its
    # Retry-After) by the page; preflights are answered before they count.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        # Only a multipart request to /graphql (uploadMedia, importContacts) may carry a file.
        multipart_max_bytes=settings.max_upload_body_bytes,
        multipart_paths=("/graphql",),
    )
    app.add_middleware(RequestLimitMiddleware, settings=settings)
    app.add_middleware(WebSocketOriginMiddleware, settings=settings)
    app.add_middleware(CORSMiddleware, **AllowedOrigins(settings).cors_options())
    if settings.trusted_proxies:
        # The client address every limit and audit line uses: from X-Forwarded-For only when
        # the connection comes from a configured proxy (`parley serve` leaves it to the app).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    # Inside the access log, which then shows the 503 a Redis outage became.
    app.add_middleware(StoreOutageMiddleware)
    app.add_middleware(RequestContextMiddleware)
    if telemetry.enabled():
        app.add_middleware(HTTPTracing)
    return app
