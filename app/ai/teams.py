"""An AutoGen team for campaign copy: a copywriter and a compliance reviewer, round-robin.

The copywriter drafts from the brief in the agent's voice; the reviewer checks the draft
against WhatsApp's rules — first the ones code can check (:mod:`app.ai.copy_rules`, no model
call), then its model's judgement — and answers ``APPROVED`` or ``REVISE: <reasons>``. The team
stops at the first approval or at the turn limit. Every turn is a step of the run and every
streamed token an event. Imports AutoGen: only the AI job imports this module.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from autogen_agentchat.agents import AssistantAgent, BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.conditions import FunctionalTermination
from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    ModelClientStreamingChunkEvent,
    TextMessage,
)
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core import CancellationToken
from autogen_core.models import AssistantMessage

from app.ai.config import ModelConfig, autogen_model_client
from app.ai.copy_rules import CopyRules
from app.ai.recorder import Recorder, StepKind
from app.models.ai import AIAgent

WRITER = "copywriter"
REVIEWER = "compliance_reviewer"
APPROVED = "APPROVED"
REVISE = "REVISE"
_STOP_SECONDS = 5.0


class CopyNotApproved(Exception):
    def __init__(self, turns: int) -> None:
        super().__init__(f"the reviewer approved no copy within {turns} turns")


class TeamFailed(Exception):
    pass


def is_approval(message: BaseAgentEvent | BaseChatMessage) -> bool:
    return (
        isinstance(message, TextMessage)
        and message.source == REVIEWER
        and message.content.strip().upper().startswith(APPROVED)
    )


class ComplianceReviewer(BaseChatAgent):
    """Checks the rules code can check, and asks its model only about drafts that pass them."""

    def __init__(self, judge: AssistantAgent, rules: CopyRules) -> None:
        super().__init__(REVIEWER, "Reviews campaign copy against WhatsApp's rules.")
        self._judge = judge
        self._rules = rules

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (TextMessage,)

    async def on_messages(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> Response:
        async for item in self.on_messages_stream(messages, cancellation_token):
            if isinstance(item, Response):
                return item
        raise AssertionError("the reviewer produced no response")

    async def on_messages_stream(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> AsyncGenerator[BaseAgentEvent | BaseChatMessage | Response, None]:
        drafts = [m for m in messages if m.source == WRITER and isinstance(m, TextMessage)]
        problems = self._rules.violations(drafts[-1].content) if drafts else []
        if not problems:
            async for item in self._judge.on_messages_stream(messages, cancellation_token):
                yield item
            return
        # The judge still hears the whole conversation, its own (rule-based) verdicts included.
        verdict = f"{REVISE}:\n" + "\n".join(f"- {problem}" for problem in problems)
        for message in messages:
            await self._judge.model_context.add_message(message.to_model_message())
        await self._judge.model_context.add_message(
            AssistantMessage(content=verdict, source=self.name)
        )
        yield Response(chat_message=TextMessage(content=verdict, source=self.name))

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        await self._judge.on_reset(cancellation_token)


def _writer_prompt(agent: AIAgent, rules: CopyRules) -> str:
    return (
        f"{agent.instructions}\n\nYou are the copywriter of a WhatsApp campaign. Write the "
        "message the customers will receive, following the brief. Answer with the message "
        "text only: no title, no quotes, no explanation. When the compliance reviewer asks "
        f"for changes, answer with the whole revised message.\n\nRules:\n{rules.describe()}"
    )


def _reviewer_prompt(rules: CopyRules) -> str:
    return (
        "You are the compliance reviewer of WhatsApp campaign copy. Check the copywriter's "
        f"latest message against these rules:\n{rules.describe()}\n\nAnswer {APPROVED} alone "
        f"when it follows every rule and fits the brief; otherwise answer {REVISE}: followed "
        "by what must change. Never rewrite the copy yourself."
    )


def _task(parameters: dict[str, Any]) -> str:
    return f"Campaign brief:\n{parameters.get('brief', '').strip()}"


async def run_copy_team(
    config: ModelConfig,
    agent: AIAgent,
    parameters: dict[str, Any],
    opt_out_keywords: Sequence[str],
    recorder: Recorder,
) -> str:
    rules = CopyRules(
        marketing=bool(parameters.get("marketing", True)),
        variables=tuple(str(v) for v in parameters.get("variables") or ()),
        opt_out_keywords=tuple(opt_out_keywords) or ("STOP",),
    )
    max_turns = int(parameters.get("max_turns", 6))
    client = autogen_model_client(config)
    writer = AssistantAgent(
        WRITER, client, system_message=_writer_prompt(agent, rules), model_client_stream=True
    )
    judge = AssistantAgent(
        REVIEWER, client, system_message=_reviewer_prompt(rules), model_client_stream=True
    )
    team = RoundRobinGroupChat(
        [writer, ComplianceReviewer(judge, rules)],
        termination_condition=FunctionalTermination(
            lambda messages: any(map(is_approval, messages))
        ),
        max_turns=max_turns,
    )
    cancellation = CancellationToken()
    latest_draft: str | None = None
    approved: str | None = None

    async def converse() -> None:
        nonlocal latest_draft, approved
        async for item in team.run_stream(task=_task(parameters), cancellation_token=cancellation):
            if isinstance(item, ModelClientStreamingChunkEvent):
                await recorder.token(item.content, source=item.source)
            elif isinstance(item, TextMessage) and item.source in (WRITER, REVIEWER):
                if item.models_usage is not None:
                    recorder.usage(
                        item.models_usage.prompt_tokens, item.models_usage.completion_tokens
                    )
                fields: dict[str, Any] = {"name": item.source, "content": item.content}
                if item.source == WRITER:
                    latest_draft = item.content.strip()
                    fields["violations"] = rules.violations(latest_draft)
                else:
                    fields["verdict"] = APPROVED if is_approval(item) else REVISE
                    if is_approval(item):
                        approved = latest_draft
                await recorder.step(StepKind.TEAM_TURN, **fields)

    conversation = asyncio.create_task(converse())
    try:
        # Shielded: a cancelled or timed-out run must first cancel the team's token, or the
        # team would wait for its model call to finish before it lets go.
        await asyncio.shield(conversation)
    except asyncio.CancelledError:
        cancellation.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(conversation, timeout=_STOP_SECONDS)
        raise
    except RuntimeError as error:
        # AutoGen re-raises an agent's exception as RuntimeError("<Type>: <message>\nTraceback…").
        raise TeamFailed(f"model endpoint: {str(error).splitlines()[0]}") from error
    finally:
        await client.close()
    if approved is None:
        raise CopyNotApproved(max_turns)
    return approved
