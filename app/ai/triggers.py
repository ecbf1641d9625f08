"""Auto-reply: :func:`on_inbound_message` reacts to every stored customer message
(``InboundMessageStored``, installed by ``app.reactions``); a burst of messages becomes one run.

The first message of a burst creates the run and schedules its job ``debounce`` seconds ahead
(a Redis ``SET NX EX`` key per conversation decides who is first, across processes); the
messages that follow inside the window are read by that same run.
"""

from __future__ import annotations

import time
import uuid

import structlog
from saq.queue.redis import RedisQueue

from app.ai import usage
from app.ai.jobs import RUN_AGENT
from app.models.ai import AgentRun, AgentTask, AgentTrigger, AIAgent
from app.models.messaging import Conversation, Message
from app.platform.events import InboundMessageStored

log = structlog.get_logger("parley.ai")


def job_options(run: AgentRun, timeout_seconds: int) -> dict[str, object]:
    # No queue-level retries: the model client retries transient errors itself, and a run
    # that ended FAILED must not start over.
    return {"key": f"agent-run:{run.id}", "run_id": run.id, "timeout": timeout_seconds + 30}


async def on_inbound_message(event: InboundMessageStored) -> None:
    message = event.message
    try:
        await _schedule_auto_reply(event, message)
    except Exception:
        # The customer's message is stored whatever happens here; losing an auto-reply is
        # better than failing the webhook that delivered it.
        log.exception("ai.auto_reply_not_scheduled", message_id=message.id)


async def _schedule_auto_reply(stored: InboundMessageStored, message: Message) -> None:
    settings, broker = stored.settings, stored.broker
    conversation = await Conversation.get(id=message.conversation_id)
    agent = await AIAgent.filter(device_id=message.device_id, enabled=True).order_by("id").first()
    if agent is None:
        return
    if await AgentRun.filter(
        conversation_id=conversation.id,
        trigger=AgentTrigger.AUTO_REPLY,
        created_at__gte=message.created_at,
    ).exists():
        # A run since this message reads it: its reactions ran already, on a try that was
        # interrupted after scheduling it (app.messaging.pipeline hands them to the retry).
        return
    if not conversation.ai_enabled:
        # A new conversation on a device with an auto-reply agent starts with AI on; one that
        # was handed off stays with people until someone turns AI back on.
        if await Message.filter(conversation_id=conversation.id).count() != 1:
            return
        await Conversation.filter(id=conversation.id).update(ai_enabled=True)
    redis = broker.redis
    window = max(settings.ai_debounce_seconds, 0.1)
    first = await redis.set(
        f"ai:debounce:{conversation.id}", uuid.uuid4().hex, nx=True, px=int(window * 1000)
    )
    if not first:
        return
    refused = await usage.count_run(stored, conversation.organization_id)
    if refused is not None:
        log.info("ai.auto_reply_refused", conversation_id=conversation.id, reason=refused)
        return
    run = await AgentRun.create(
        organization_id=conversation.organization_id,
        agent_id=agent.id,
        conversation_id=conversation.id,
        trigger=AgentTrigger.AUTO_REPLY,
        task=AgentTask.REPLY,
    )
    await RedisQueue(redis, name=RUN_AGENT.queue).enqueue(
        RUN_AGENT.name, scheduled=time.time() + window, **job_options(run, agent.timeout_seconds)
    )
    log.info("ai.auto_reply_scheduled", run_id=run.id, conversation_id=conversation.id)
