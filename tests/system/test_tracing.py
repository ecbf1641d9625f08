"""Tracing: one message's life is one trace, from sendMessage to its status webhooks."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.platform import telemetry
from tests.fakes.graph_api import FakeGraphApi
from tests.support.client import Api
from tests.support.cloud_api import APP_SECRET, cloud_device, inbound, status_of
from tests.support.messaging import eventually, member
from tests.support.server import RunningServer, make_settings, run_server

SEND_REPLY = """
mutation SendReply($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id status } userErrors { code } }
}
"""


@pytest.fixture
async def traced(
    tmp_path: Path,
) -> AsyncIterator[tuple[RunningServer, FakeGraphApi, InMemorySpanExporter]]:
    """A server built while tracing is on, exporting to memory; tracing off again after."""
    exporter = InMemorySpanExporter()
    telemetry.configure_tracing("parley-test", exporter)
    try:
        async with FakeGraphApi(app_secret=APP_SECRET, status_delay=0.01) as graph:
            settings = make_settings(tmp_path / "var", whatsapp_graph_url=graph.base_url)
            async with run_server(settings) as server:
                yield server, graph, exporter
    finally:
        telemetry.stop_tracing()


async def test_send_message_its_job_the_meta_call_and_its_status_webhooks_are_one_trace(
    traced: tuple[RunningServer, FakeGraphApi, InMemorySpanExporter],
) -> None:
    server, graph, exporter = traced
    owner = await member(server, Api(server.graphql_url))
    device = await cloud_device(server, graph, owner)
    conversation_id = await inbound(owner, graph, device, "16505550777")
    exporter.clear()

    sent = await owner.api.data(
        SEND_REPLY, {"input": {"conversationId": conversation_id, "text": "Hi"}}
    )
    message_id = sent["sendMessage"]["message"]["id"]
    await status_of(owner, message_id, "READ")

    async def the_operation() -> ReadableSpan | None:
        return _named(exporter, "GraphQL Query: SendReply")

    operation = await eventually(the_operation)
    trace_id = operation.context.trace_id

    async def all_statuses() -> list[ReadableSpan] | None:
        statuses = [s for s in _in_trace(exporter, trace_id) if s.name == "whatsapp.status"]
        return statuses if len(statuses) == 3 else None

    statuses = await eventually(all_statuses)
    life = _in_trace(exporter, trace_id)
    names = [s.name for s in life]
    assert "POST /graphql" in names  # the HTTP request that carried the mutation
    assert "GraphQL Resolving: sendMessage" in names
    job = next(s for s in life if s.name == "job send_message")
    meta_call = next(s for s in life if s.name.startswith("POST 127.0.0.1"))
    assert meta_call.attributes is not None
    assert str(meta_call.attributes["url.path"]).endswith("/messages")
    assert meta_call.parent is not None and _ancestor(life, meta_call, job)
    assert job.parent is not None and _ancestor(life, job, operation)
    assert sorted(str((s.attributes or {})["status"]) for s in statuses) == [
        "delivered",
        "read",
        "sent",
    ]
    # Each status continues the send's trace and links to the webhook delivery that carried it.
    assert all(s.links and s.links[0].context.trace_id != trace_id for s in statuses)
    assert operation.attributes is not None
    assert operation.attributes["graphql.operation.name"] == "SendReply"
    assert operation.attributes["graphql.cost.requested"] >= 1
    assert not any(key.startswith("graphql.param") for s in life for key in (s.attributes or {}))
    if target := os.environ.get("PARLEY_TRACE_EXPORT"):
        _export(life, Path(target))


def _named(exporter: InMemorySpanExporter, name: str) -> ReadableSpan | None:
    return next((s for s in exporter.get_finished_spans() if s.name == name), None)


def _in_trace(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]


def _ancestor(spans: list[ReadableSpan], span: ReadableSpan, ancestor: ReadableSpan) -> bool:
    by_id = {s.context.span_id: s for s in spans}
    current: ReadableSpan | None = span
    while current is not None and current.parent is not None:
        if current.parent.span_id == ancestor.context.span_id:
            return True
        current = by_id.get(current.parent.span_id)
    return False


def _export(spans: list[ReadableSpan], target: Path) -> None:
    """The trace as a JSON list of spans, oldest first (docs/trace-send-message.json)."""
    ordered = sorted(spans, key=lambda s: s.start_time or 0)
    target.write_text(json.dumps([json.loads(s.to_json()) for s in ordered], indent=1) + "\n")
