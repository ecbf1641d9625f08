"""One agent run from QUEUED to its end: claimed, executed under a timeout while watching for
cancellation, finished with output or the reason it failed."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from datetime import UTC
from typing import Any

import structlog

from app.ai import usage
from app.ai.config import is_configured, model_config
from app.ai.recorder import Recorder, StepKind
from app.ai.replies import ReplyNotSent, hand_off, send_reply
from app.messaging.typing import show_typing
from app.models.ai import AgentRun, AgentRunStatus, AgentTask, AIAgent
from app.models.messaging import Conversation, Direction, Message
from app.plans import features
from app.plans.limits import Feature
from app.platform import clock, events
from app.platform.failures import causes
from app.platform.runtime import Runtime
from app.whatsapp.errors import ProviderError

log = structlog.get_logger("parley.ai")
CANCEL_POLL_SECONDS = 0.25


class AgentRunNotFound(Exception):
    def __init__(self, run_id: int) -> None:
        super().__init__(f"agent run {run_id} does not exist")


class RunFailed(Exception):
    pass


async def execute(runtime: Runtime, run_id: int) -> None:
    run = await AgentRun.get_or_none(id=run_id)
    if run is None:
        raise AgentRunNotFound(run_id)
    started = clock.now()
    async with events.transaction():
        claimed = await AgentRun.filter(id=run.id, status=AgentRunStatus.QUEUED).update(
            status=AgentRunStatus.RUNNING, started_at=started
        )
        if not claimed:
            return  # cancelled while queued, or already run
        run.status, run.started_at = AgentRunStatus.RUNNING, started
        await events.publish(
            runtime.broker, events.AgentRunEvent.of(run, "STATUS", status=run.status.value)
        )
    recorder = Recorder(runtime.broker, run)
    agent = await AIAgent.get(id=run.agent_id)
    began = time.monotonic()
    work = asyncio.create_task(_work(runtime, run, agent, recorder))
    watcher = asyncio.create_task(_watch_for_cancel(run.id, work))
    status, output, error = AgentRunStatus.SUCCEEDED, None, None
    try:
        output = await asyncio.wait_for(work, timeout=agent.timeout_seconds)
    except asyncio.CancelledError:
        if not work.cancelled():
            raise  # the job itself is being stopped
        status = AgentRunStatus.CANCELLED
    except TimeoutError:
        status, error = AgentRunStatus.FAILED, f"timed out after {agent.timeout_seconds} s"
    except Exception as exc:
        status, error = AgentRunStatus.FAILED, _reason(exc)
        log.warning("ai.run_failed", run_id=run.id, error=error)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    changes: dict[str, Any] = {
        "finished_at": clock.now(),
        "latency_ms": int((time.monotonic() - began) * 1000),
        "prompt_tokens": recorder.prompt_tokens,
        "completion_tokens": recorder.completion_tokens,
        "steps": run.steps,
    }
    if recorder.prompt_tokens or recorder.completion_tokens:
        await usage.add(
            run.organization_id,
            run.created_at.astimezone(UTC).date(),
            prompt=recorder.prompt_tokens,
            completion=recorder.completion_tokens,
        )
    if status is AgentRunStatus.CANCELLED:
        # cancelAgentRun already set the status; only the bookkeeping is added.
        await AgentRun.filter(id=run.id).update(**changes)
        return
    async with events.transaction():
        changed = await AgentRun.filter(id=run.id, status=AgentRunStatus.RUNNING).update(
            status=status, output=output, error=error, **changes
        )
        if changed:
            await events.publish(
                runtime.broker,
                events.AgentRunEvent.of(
                    run, "STATUS", status=status.value, output=output, error=error
                ),
            )


async def _work(runtime: Runtime, run: AgentRun, agent: AIAgent, recorder: Recorder) -> str:
    if not is_configured(runtime.settings):
        raise RunFailed("AI is not configured (PARLEY_AI_BASE_URL / PARLEY_AI_API_KEY)")
    config = model_config(runtime.settings, agent.model)
    conversation = (
        await Conversation.get(id=run.conversation_id) if run.conversation_id is not None else None
    )
    if run.task is AgentTask.CAMPAIGN_COPY:
        # Queued before a downgrade took the feature away: not run on this plan.
        if missing := await features.missing(runtime, run.organization_id, Feature.AI_TEAMS):
            raise RunFailed(missing.message)
        # AutoGen, like Semantic Kernel, is imported off the event loop and only here.
        teams = await asyncio.to_thread(importlib.import_module, "app.ai.teams")
        copy: str = await teams.run_copy_team(
            config, agent, run.input, runtime.settings.opt_out_keywords, recorder
        )
        return copy
    if (
        run.task is AgentTask.REPLY
        and conversation is not None
        and await _handoff_keyword(runtime, agent, conversation, recorder)
    ):
        return f"Handed off: {recorder.handoff_reason}"
    # Semantic Kernel takes a second or more to import: do it off the event loop, which keeps
    # serving the worker's other jobs meanwhile.
    agents = await asyncio.to_thread(importlib.import_module, "app.ai.agents")
    if run.task is AgentTask.REPLY and conversation is not None:
        await _show_typing(runtime, conversation)
    text = await agents.run_single_agent(runtime, config, agent, conversation, run.task, recorder)
    if recorder.handoff_reason is not None:
        await recorder.step(StepKind.HANDOFF, reason=recorder.handoff_reason)
        return f"Handed off: {recorder.handoff_reason}"
    if run.task is AgentTask.REPLY and conversation is not None:
        try:
            message = await send_reply(runtime, conversation, text, key=f"ai-run:{run.id}")
        except ReplyNotSent as error:
            raise RunFailed(f"reply not sent: {error}") from error
        await recorder.step(StepKind.REPLY_SENT, message_id=message.id, text=message.body)
    return text


async def _show_typing(runtime: Runtime, conversation: Conversation) -> None:
    """The customer sees "typing…" while the model works; a refusal only costs the hint."""
    try:
        await show_typing(runtime.settings, conversation)
    except ProviderError as error:
        log.warning("ai.typing_failed", conversation_id=conversation.id, code=error.code)


async def _handoff_keyword(
    runtime: Runtime, agent: AIAgent, conversation: Conversation, recorder: Recorder
) -> bool:
    """Handoff keywords in the customer's latest message skip the model altogether."""
    keywords = [k.lower() for k in agent.handoff_keywords or [] if k.strip()]
    latest = (
        await Message.filter(conversation_id=conversation.id, direction=Direction.INBOUND)
        .order_by("-id")
        .first()
    )
    text = (latest.body or "").lower() if latest else ""
    hit = next((k for k in keywords if k in text), None)
    if hit is None:
        return False
    await hand_off(runtime, conversation)
    recorder.handoff_reason = f"handoff keyword {hit!r}"
    await recorder.step(StepKind.HANDOFF, reason=recorder.handoff_reason)
    return True


async def _watch_for_cancel(run_id: int, work: asyncio.Task[Any]) -> None:
    # Polls the row so a cancel from any API process reaches the worker running the run.
    while not work.done():
        await asyncio.sleep(CANCEL_POLL_SECONDS)
        if await AgentRun.filter(id=run_id, status=AgentRunStatus.CANCELLED).exists():
            work.cancel()
            return


def _reason(error: BaseException) -> str:
    """The most telling error of the chain: the endpoint's, not the framework's wrapper."""
    for candidate in causes(error):
        module = type(candidate).__module__
        if module.startswith("openai"):
            return f"model endpoint: {type(candidate).__name__}: {candidate}"
    return f"{type(error).__name__}: {error}"
