"""/metrics: what Parley did, beside HTTP and WebSocket (docs/observability.md)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

import app.live.metrics
import app.platform.metrics  # noqa: F401
from app.platform.ids import decode_id
from tests.fakes.graph_api import FakeGraphApi
from tests.support.client import Api
from tests.support.cloud_api import cloud_device, fake, inbound, status_of
from tests.support.messaging import SEND, member
from tests.support.server import RunningServer

__all__ = ["fake"]  # the fixture, used by name

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(server: RunningServer) -> Samples:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server.url}/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_a_send_a_failed_send_and_their_webhooks_show_in_metrics(
    server: RunningServer, api: Api, fake: FakeGraphApi
) -> None:
    owner = await member(server, api)
    device = await cloud_device(server, fake, owner)
    device_pk = str(decode_id(device.id, "Device"))
    conversation_id = await inbound(owner, fake, device, "16505550881")
    before = await scrape(server)

    sent = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": "Hi"}})
    await status_of(owner, sent["sendMessage"]["message"]["id"], "READ")
    fake.fail_next(131026, to="16505550881")
    failed = await owner.api.data(SEND, {"input": {"conversationId": conversation_id, "text": "x"}})
    await status_of(owner, failed["sendMessage"]["message"]["id"], "FAILED")
    after = await scrape(server)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("parley_messages_sent_total", device=device_pk, origin="message") == 1
    assert grew("parley_messages_failed_total", device=device_pk, origin="message") == 1
    assert grew("parley_provider_errors_total", code="131026", failure="UNDELIVERABLE") == 1
    assert grew("parley_webhook_events_received_total") >= 3  # sent, delivered, read
    assert grew("parley_webhook_processing_lag_seconds_count") >= 3
    assert (
        grew(
            "parley_job_duration_seconds_count",
            queue="default",
            function="send_message",
            outcome="ok",
        )
        == 2
    )
    # Deliveries that arrive together share a job (app.messaging.intake).
    assert (
        grew("parley_job_wait_seconds_count", queue="default", function="process_webhook_events")
        >= 1
    )
    # Every authenticated request looks its viewer up (a fresh write's entry is a miss).
    lookups = grew("parley_cache_lookups_total", result="hit") + grew(
        "parley_cache_lookups_total", result="miss"
    )
    assert lookups >= 4
    assert value(after, "parley_devices", status="CONNECTED") >= 1
    assert ("parley_queue_jobs", frozenset({("queue", "campaigns"), ("state", "queued")})) in after


def test_the_dashboard_and_the_alert_rules_use_only_metrics_parley_exports() -> None:
    import app.live.metrics
    import app.platform.metrics  # noqa: F401

    exported = {
        sample_name
        for family in REGISTRY.collect()
        for suffix in ("", "_total", "_bucket", "_count", "_sum")
        for sample_name in [family.name + suffix]
    }
    deploy = Path(__file__).resolve().parents[2] / "deploy"
    used = set(
        re.findall(
            r"parley_[a-z_]+",
            (deploy / "grafana-dashboard.json").read_text()
            + (deploy / "prometheus-alerts.yml").read_text(),
        )
    ) - {"parley_overview"}

    assert used and used <= exported, used - exported
