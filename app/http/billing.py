"""``POST /billing/subscription``: a billing system's signed word on a subscription
(app.plans.billing describes the call). Off (404) unless ``PARLEY_BILLING_SECRET`` is set."""

from __future__ import annotations

import time

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tortoise.exceptions import IntegrityError

from app.plans import billing
from app.platform.ids import to_global_id

log = structlog.get_logger("parley.billing")


async def billing_subscription(request: Request) -> Response:
    settings = request.app.state.runtime.settings
    if settings.billing_secret is None:
        return JSONResponse({"error": "Not found."}, status_code=404)
    body = await request.body()
    header = request.headers.get(billing.SIGNATURE_HEADER)
    if not billing.verify(settings.billing_secret.get_secret_value(), header, body, time.time()):
        log.warning("billing.bad_signature")
        return JSONResponse({"error": "Bad or stale signature."}, status_code=401)
    try:
        change = billing.parse(orjson.loads(body))
        subscription, plan = await billing.apply(settings, change)
    except orjson.JSONDecodeError:
        return JSONResponse({"error": "The body must be JSON."}, status_code=400)
    except billing.BillingError as error:
        return JSONResponse({"error": str(error)}, status_code=error.status)
    except IntegrityError:
        return JSONResponse({"error": "`externalId` belongs to another subscription."}, 409)
    log.info(
        "billing.subscription_set",
        organization_id=subscription.organization_id,
        status=subscription.status.value,
        plan=plan.name,
    )
    return JSONResponse(
        {
            "organizationId": to_global_id("Organization", subscription.organization_id),
            "status": subscription.status.value,
            "plan": plan.name,
        }
    )
