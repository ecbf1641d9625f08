"""A Semantic Kernel single agent: one conversation, Parley's plugin, automatic tool choice.

Streams the model's answer token by token; every model turn and every tool call becomes a
step with its arguments and result. Imports Semantic Kernel: only the AI job imports this.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from semantic_kernel import Kernel
from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior
from semantic_kernel.contents import (
    AuthorRole,
    ChatHistory,
    FunctionCallContent,
    StreamingChatMessageContent,
)
from semantic_kernel.filters import AutoFunctionInvocationContext, FilterTypes

from app.ai.config import ModelConfig, kernel_chat_service
from app.ai.plugins import HANDOFF, PLUGIN, ParleyPlugin
from app.ai.recorder import Recorder, StepKind
from app.models.ai import TOOLS, AgentTask, AIAgent
from app.models.messaging import Contact, Conversation, Direction, Message
from app.platform import clock
from app.platform.runtime import Runtime

HISTORY = 30
_SUMMARIZE = (
    "Summarize the conversation below for a colleague who takes it over: who the customer is, "
    "what they want, what was promised, what is still open. At most five short lines."
)


@dataclass
class _Turn:
    """The model turn being streamed: its text and the tools it asked for."""

    text: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not self.text and not self.calls


async def run_single_agent(
    runtime: Runtime,
    config: ModelConfig,
    agent: AIAgent,
    conversation: Conversation | None,
    task: AgentTask,
    recorder: Recorder,
) -> str:
    kernel = Kernel()
    service = kernel_chat_service(config)
    kernel.add_service(service)
    tools = [name for name in (agent.tools or TOOLS) if name in TOOLS]
    use_tools = task is not AgentTask.SUMMARIZE and conversation is not None and bool(tools)
    if use_tools:
        kernel.add_plugin(ParleyPlugin(runtime, agent, conversation, recorder), plugin_name=PLUGIN)
    turn = _Turn()
    reply = ""

    async def flush() -> None:
        nonlocal turn, reply
        if not turn.empty():
            reply = "".join(turn.text)  # the answer is the last turn's text
            await recorder.step(StepKind.MODEL_TURN, content=reply or None, tool_calls=turn.calls)
        turn = _Turn()

    async def record_tool(
        context: AutoFunctionInvocationContext,
        next: Callable[
            [AutoFunctionInvocationContext], Awaitable[None]
        ],  # SK passes it by this name
    ) -> None:
        await flush()
        await next(context)
        result = context.function_result.value if context.function_result else None
        await recorder.step(
            StepKind.TOOL_CALL,
            name=context.function.name,
            arguments={k: v for k, v in (context.arguments or {}).items()},
            result=result,
        )
        if context.function.name == HANDOFF:
            context.terminate = True  # nothing more to say to the customer

    kernel.add_filter(FilterTypes.AUTO_FUNCTION_INVOCATION, record_tool)
    settings = service.get_prompt_execution_settings_class()(service_id="parley")
    if use_tools:
        settings.function_choice_behavior = FunctionChoiceBehavior.Auto(
            filters={"included_functions": [f"{PLUGIN}-{name}" for name in tools]},
            maximum_auto_invoke_attempts=max(1, agent.max_tool_calls) + 1,
        )
    history = await _history(agent, conversation, task)
    async for chunks in service.get_streaming_chat_message_contents(
        history, settings, kernel=kernel
    ):
        for chunk in chunks:
            _count_usage(recorder, chunk)
            if (
                not isinstance(chunk, StreamingChatMessageContent)
                or chunk.role != AuthorRole.ASSISTANT
            ):
                continue
            for item in chunk.items:
                if isinstance(item, FunctionCallContent) and item.name:
                    turn.calls.append(item.name)
            if chunk.content:
                turn.text.append(chunk.content)
                await recorder.token(chunk.content)
        if recorder.handoff_reason is not None:
            break
    await flush()
    return reply


def _count_usage(recorder: Recorder, chunk: Any) -> None:
    usage = (getattr(chunk, "metadata", None) or {}).get("usage")
    if usage is not None:
        recorder.usage(usage.prompt_tokens or 0, usage.completion_tokens or 0)


async def _history(
    agent: AIAgent, conversation: Conversation | None, task: AgentTask
) -> ChatHistory:
    messages: list[Message] = []
    contact: Contact | None = None
    if conversation is not None:
        messages = list(
            reversed(
                await Message.filter(conversation_id=conversation.id).order_by("-id").limit(HISTORY)
            )
        )
        contact = await Contact.get(id=conversation.contact_id)
    if task is AgentTask.SUMMARIZE:
        history = ChatHistory(system_message=_SUMMARIZE)
        history.add_user_message(
            "\n".join(
                f"{'customer' if m.direction is Direction.INBOUND else 'business'}: {m.body or ''}"
                for m in messages
            )
            or "(no messages)"
        )
        return history
    now = clock.now().strftime("%Y-%m-%d %H:%M UTC")
    system = (
        f"{agent.instructions}\n\nYou answer on WhatsApp for the business: short, plain text. "
        f"The customer is {contact.name if contact and contact.name else 'unknown by name'}. "
        f"It is {now}."
    )
    if task is AgentTask.DRAFT_REPLY:
        system += " Write the reply a colleague will review before sending."
    history = ChatHistory(system_message=system)
    for message in messages:
        if message.direction is Direction.INBOUND:
            history.add_user_message(message.body or f"[{message.type.value.lower()}]")
        elif message.body:
            history.add_assistant_message(message.body)
    return history
