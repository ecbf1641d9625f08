"""Who reacts to which domain event in-process: the composition root of the events seam.

Every process that changes messages (an API process, a worker) installs these before it
serves: the messaging pipeline says what happened (``app.platform.events``) and never
imports the domains that react to it.
"""

from __future__ import annotations

from app.accounts import usage_mail
from app.ai import triggers
from app.campaigns import statuses
from app.inbox import routing, sync
from app.integrations import outbox
from app.platform import events


def install() -> None:
    events.react(events.InboundMessageStored, triggers.on_inbound_message)
    events.react(events.InboundMessageStored, routing.on_inbound_message)
    events.react(events.DeliveryStatusReceived, statuses.on_status_update)
    events.react(events.DeliveryStatusesReceived, statuses.on_status_updates)
    events.react(events.UsageThresholdReached, usage_mail.on_usage_threshold)
    # Every live event is written down in its change's transaction: to the webhooks' outbox
    # (organizations with webhooks), then the inbox change log, whose sequence lock is taken
    # last, just before the commit.
    events.record_with(outbox.record)
    events.record_with(sync.record)
