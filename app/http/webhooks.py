"""``GET|POST /webhooks/whatsapp/{deviceId}``: Meta's verification challenge and deliveries.

A delivery is checked (signature on the raw body, then JSON), stored as received, and handed
to a job; the answer goes back before any processing so that Meta never times out on us.
Deliveries arriving together are stored and queued together (app.messaging.intake).

Each device's URL takes at most ``PARLEY_WEBHOOK_LIMIT_PER_DEVICE`` requests, counted before
anything else (one Redis round trip; no body read, no device lookup, no signature check), so a
flood at a known URL costs almost nothing. Meta's own traffic stays far below it (README).
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from app.messaging.intake import QueueUnavailable
from app.messaging.providers import app_secret
from app.models.messaging import Device, Provider
from app.platform.cache import device_key
from app.platform.errors import BadUserInput
from app.platform.ids import decode_id
from app.platform.metrics import WEBHOOK_EVENTS
from app.platform.ratelimit import over_fixed_window
from app.whatsapp.errors import MalformedWebhook
from app.whatsapp.webhooks import (
    SIGNATURE_HEADER,
    SignatureResult,
    parse_webhook,
    verify_challenge,
    verify_signature,
)

log = structlog.get_logger("parley.webhooks")


async def _device(pk: int, runtime: Any) -> Device | None:
    # Read on every delivery: cached, and forgotten by any write to the device (app.platform.cache).
    device = await runtime.cache.get_or_load(device_key(pk), lambda: Device.get_or_none(id=pk))
    return device if device is not None and device.provider is Provider.CLOUD_API else None


async def whatsapp_webhook(request: Request) -> Response:
    runtime = request.app.state.runtime
    try:
        pk = decode_id(request.path_params["device_id"], "Device", field="deviceId")
    except BadUserInput:
        return PlainTextResponse("Not found", status_code=404)
    settings = runtime.settings
    retry_after = await over_fixed_window(
        settings, settings.webhook_limit_per_device, "webhook", "device", str(pk)
    )
    if retry_after is not None:
        return PlainTextResponse(
            "Too many requests", status_code=429, headers={"Retry-After": str(retry_after)}
        )
    device = await _device(pk, runtime)
    if device is None:
        return PlainTextResponse("Not found", status_code=404)
    if request.method == "GET":
        challenge = verify_challenge(request.query_params, device.verify_token)
        if challenge is None:
            return PlainTextResponse("Forbidden", status_code=403)
        return PlainTextResponse(challenge)

    try:
        body = await request.body()
    except ClientDisconnect:
        # The sender stopped waiting before its body arrived (an overloaded server: Meta
        # times out and delivers it again). One line, not a 500 and a traceback each.
        log.warning("webhook.sender_gone", device_id=device.id)
        return PlainTextResponse("Client closed request", status_code=499)
    secret = app_secret(runtime.settings, device) or ""
    signature = verify_signature(secret, body, request.headers.get(SIGNATURE_HEADER))
    if signature is not SignatureResult.VALID:
        log.warning("webhook.signature_rejected", device_id=device.id, result=signature.value)
        status = 401 if signature is SignatureResult.MISSING else 403
        return PlainTextResponse("Bad signature", status_code=status)
    try:
        parse_webhook(orjson.loads(body))
    except (orjson.JSONDecodeError, MalformedWebhook) as error:
        log.warning("webhook.malformed", device_id=device.id, error=str(error))
        return PlainTextResponse("Malformed webhook", status_code=400)
    try:
        await request.app.state.webhook_intake.store(
            device.organization_id, device.id, body.decode()
        )
    except QueueUnavailable as error:
        # Not acknowledged, so Meta delivers it again (app.messaging.intake removed the copy).
        log.warning("webhook.queue_unavailable", device_id=device.id, error=str(error))
        return PlainTextResponse("Try again later", status_code=503, headers={"Retry-After": "1"})
    WEBHOOK_EVENTS.inc()
    return PlainTextResponse("OK")
