"""Parley's native plugin: what a single agent may look up or do, scoped to its conversation.

Imports Semantic Kernel: only the AI job imports this module.
"""

from __future__ import annotations

import json
from typing import Annotated

from semantic_kernel.functions import kernel_function
from tortoise.expressions import Q

from app.ai import business_hours
from app.ai.recorder import Recorder
from app.ai.replies import hand_off
from app.models.accounts import Organization
from app.models.ai import AIAgent, KnowledgeEntry
from app.models.messaging import Contact, Conversation, Direction, Message
from app.platform.runtime import Runtime

PLUGIN = "parley"
HANDOFF = "handoff_to_human"


class ParleyPlugin:
    def __init__(
        self,
        runtime: Runtime,
        agent: AIAgent,
        conversation: Conversation | None,
        recorder: Recorder,
    ) -> None:
        self._runtime = runtime
        self._agent = agent
        self._conversation = conversation
        self._recorder = recorder

    @kernel_function(
        name="contact_lookup",
        description="The customer of this conversation: name, phone number, tags, attributes.",
    )
    async def contact_lookup(self) -> str:
        if self._conversation is None:
            return "No conversation."
        contact = await Contact.get(id=self._conversation.contact_id)
        return json.dumps(
            {
                "name": contact.name,
                "phone_number": contact.phone_number,
                "tags": contact.tags,
                "attributes": contact.attributes,
            }
        )

    @kernel_function(
        name="conversation_history",
        description="The latest messages of this conversation, oldest first.",
    )
    async def conversation_history(
        self, limit: Annotated[int, "How many messages, at most 50."] = 20
    ) -> str:
        if self._conversation is None:
            return "No conversation."
        rows = (
            await Message.filter(conversation_id=self._conversation.id)
            .order_by("-id")
            .limit(max(1, min(int(limit), 50)))
        )
        return "\n".join(
            f"{'customer' if m.direction is Direction.INBOUND else 'business'}: {m.body or ''}"
            for m in reversed(rows)
        )

    @kernel_function(
        name="knowledge_search",
        description="Search the business's knowledge base (FAQ, policies) by keywords.",
    )
    async def knowledge_search(self, query: Annotated[str, "Keywords to look for."]) -> str:
        words = [w for w in query.split() if len(w) > 2][:8] or [query]
        condition = Q()
        for word in words:
            condition |= Q(title__icontains=word) | Q(body__icontains=word)
        rows = (
            await KnowledgeEntry.filter(organization_id=self._agent.organization_id)
            .filter(condition)
            .order_by("id")
            .limit(5)
        )
        if not rows:
            return "Nothing found."
        return json.dumps([{"title": row.title, "body": row.body} for row in rows])

    @kernel_function(
        name="business_hours",
        description="Opening hours of the business, and whether it is open right now.",
    )
    async def business_hours(self) -> str:
        # The agent's own hours when it has them (a branch, a service line), else the
        # organization's.
        hours = self._agent.business_hours
        if not hours:
            organization = await Organization.get(id=self._agent.organization_id)
            hours = organization.business_hours
        return json.dumps(business_hours.describe(hours or {}))

    @kernel_function(
        name=HANDOFF,
        description="Hand the conversation to a human colleague; use when the customer asks "
        "for a person or you cannot help. You send no reply afterwards.",
    )
    async def handoff_to_human(
        self, reason: Annotated[str, "Why a person should take over."]
    ) -> str:
        if self._conversation is None:
            return "No conversation to hand off."
        await hand_off(self._runtime, self._conversation)
        self._recorder.handoff_reason = reason
        return "Handed off to a human; they will answer the customer."
