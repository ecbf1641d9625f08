from __future__ import annotations

import json

from app.models.accounts import Role
from app.models.messaging import Direction, Message
from app.platform.ids import from_global_id
from tests.ai.support import RUN_AGENT, create_agent, finished_run
from tests.fakes.openai_server import FakeOpenAI, text, tool_call
from tests.support.client import Api
from tests.support.messaging import member, sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer

CREATE = """
mutation($input: CreateAIAgentInput!) {
  createAIAgent(input: $input) { agent { id name tools } userErrors { field message code } }
}
"""
UPDATE = """
mutation($input: UpdateAIAgentInput!) {
  updateAIAgent(input: $input) {
    agent { id name model tools maxToolCalls timeoutSeconds enabled device { id } }
    userErrors { field message code }
  }
}
"""
AGENTS = "query { aiAgents { nodes { id name } } }"
SAVE_ENTRY = """
mutation($input: SaveKnowledgeEntryInput!) {
  saveKnowledgeEntry(input: $input) { entry { id title body } userErrors { field code } }
}
"""
ENTRIES = "query($search: String) { knowledgeEntries(search: $search) { nodes { id title } } }"
DELETE_ENTRY = """
mutation($input: DeleteKnowledgeEntryInput!) {
  deleteKnowledgeEntry(input: $input) { deletedEntryId userErrors { field code } }
}
"""
SET_AI = """
mutation($input: SetConversationAIInput!) {
  setConversationAI(input: $input) { conversation { id aiEnabled } userErrors { code } }
}
"""


async def test_agents_are_validated_changed_and_listed_within_their_organization(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    stranger = await member(server, api)
    colleague = await member(server, api, Role.AGENT, owner.organization_id)
    device_id = await sandbox_device(owner)
    agent_id = await create_agent(owner)

    invalid = await owner.api.data(
        CREATE,
        {
            "input": {
                "name": " ",
                "instructions": "Be nice.",
                "tools": ["business_hours", "launch_rockets"],
                "timeoutSeconds": 1,
            }
        },
    )
    forbidden = await colleague.api.call(CREATE, {"input": {"name": "X", "instructions": "Y"}})
    changed = await owner.api.data(
        UPDATE,
        {
            "input": {
                "agentId": agent_id,
                "name": "Night desk",
                "model": "qwen2.5:7b",
                "tools": ["knowledge_search", "knowledge_search"],
                "deviceId": device_id,
                "maxToolCalls": 2,
                "enabled": False,
            }
        },
    )
    foreign = await stranger.api.data(UPDATE, {"input": {"agentId": agent_id, "name": "Mine"}})

    assert invalid["createAIAgent"]["agent"] is None
    assert sorted((e["field"][-1], e["code"]) for e in invalid["createAIAgent"]["userErrors"]) == [
        ("name", "INVALID"),
        ("timeoutSeconds", "INVALID"),
        ("tools", "INVALID"),
    ]
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    agent = changed["updateAIAgent"]["agent"]
    assert (agent["name"], agent["model"], agent["tools"]) == (
        "Night desk",
        "qwen2.5:7b",
        ["knowledge_search"],
    )
    assert (agent["maxToolCalls"], agent["enabled"], agent["device"]) == (
        2,
        False,
        {"id": device_id},
    )
    assert [e["code"] for e in foreign["updateAIAgent"]["userErrors"]] == ["NOT_FOUND"]
    assert (await owner.api.data(AGENTS))["aiAgents"]["nodes"] == [
        {"id": agent_id, "name": "Night desk"}
    ]
    assert (await stranger.api.data(AGENTS))["aiAgents"]["nodes"] == []


async def test_knowledge_entries_are_saved_searched_and_deleted_per_organization(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    stranger = await member(server, api)

    created = await owner.api.data(
        SAVE_ENTRY, {"input": {"title": "Gluten", "body": "Gluten-free base on request."}}
    )
    entry_id = created["saveKnowledgeEntry"]["entry"]["id"]
    await owner.api.data(SAVE_ENTRY, {"input": {"title": "Delivery", "body": "Within 5 km."}})
    changed = await owner.api.data(
        SAVE_ENTRY, {"input": {"entryId": entry_id, "body": "Gluten-free base, +2 EUR."}}
    )
    incomplete = await owner.api.data(SAVE_ENTRY, {"input": {"title": "No body"}})
    found = await owner.api.data(ENTRIES, {"search": "gluten"})
    foreign = await stranger.api.data(DELETE_ENTRY, {"input": {"entryId": entry_id}})
    deleted = await owner.api.data(DELETE_ENTRY, {"input": {"entryId": entry_id}})

    assert changed["saveKnowledgeEntry"]["entry"] == {
        "id": entry_id,
        "title": "Gluten",
        "body": "Gluten-free base, +2 EUR.",
    }
    assert [e["code"] for e in incomplete["saveKnowledgeEntry"]["userErrors"]] == ["REQUIRED"]
    assert found["knowledgeEntries"]["nodes"] == [{"id": entry_id, "title": "Gluten"}]
    assert [e["code"] for e in foreign["deleteKnowledgeEntry"]["userErrors"]] == ["NOT_FOUND"]
    assert deleted["deleteKnowledgeEntry"]["deletedEntryId"] == entry_id
    remaining = await owner.api.data(ENTRIES)
    assert [n["title"] for n in remaining["knowledgeEntries"]["nodes"]] == ["Delivery"]
    assert (await stranger.api.data(ENTRIES))["knowledgeEntries"]["nodes"] == []


async def test_a_draft_reply_searches_the_knowledge_and_sends_nothing(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    neighbour = await member(server, api)
    device_id = await sandbox_device(owner)
    agent_id = await create_agent(owner, tools=["knowledge_search"])
    await owner.api.data(
        SAVE_ENTRY, {"input": {"title": "Gluten", "body": "Gluten-free base on request."}}
    )
    await neighbour.api.data(
        SAVE_ENTRY, {"input": {"title": "Gluten", "body": "We have no gluten-free pizza."}}
    )
    inbound = await simulate(owner, device_id, unique_phone(), "Do you have gluten free pizza?")
    conversation_id = inbound["conversation"]["id"]
    llm.script(
        tool_call("parley-knowledge_search", {"query": "gluten free"}),
        text("Yes: we make a gluten-free base on request."),
    )

    started = await owner.api.data(
        RUN_AGENT,
        {"input": {"agentId": agent_id, "conversationId": conversation_id, "task": "DRAFT_REPLY"}},
    )
    run = await finished_run(started["runAgent"]["run"]["id"], within=90)

    assert run.output == "Yes: we make a gluten-free base on request."
    tool = next(step for step in run.steps if step["kind"] == "TOOL_CALL")
    assert tool["name"] == "knowledge_search" and tool["arguments"] == {"query": "gluten free"}
    assert json.loads(tool["result"]) == [
        {"title": "Gluten", "body": "Gluten-free base on request."}
    ]
    offered = {t["function"]["name"] for t in llm.requests[0]["tools"]}
    assert offered == {"parley-knowledge_search"}  # only the agent's enabled tools
    assert "colleague will review" in llm.requests[0]["messages"][0]["content"]
    conversation_pk = from_global_id(conversation_id)[1]
    assert not await Message.exists(conversation_id=conversation_pk, direction=Direction.OUTBOUND)


async def test_summarize_offers_no_tools_and_returns_the_summary(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    device_id = await sandbox_device(owner)
    agent_id = await create_agent(owner)
    inbound = await simulate(owner, device_id, unique_phone(), "Two margheritas for 7 pm")
    llm.script(text("Customer orders two margheritas for 7 pm; nothing promised yet."))

    started = await owner.api.data(
        RUN_AGENT,
        {
            "input": {
                "agentId": agent_id,
                "conversationId": inbound["conversation"]["id"],
                "task": "SUMMARIZE",
            }
        },
    )
    run = await finished_run(started["runAgent"]["run"]["id"], within=90)

    assert run.output == "Customer orders two margheritas for 7 pm; nothing promised yet."
    [request] = llm.requests
    assert "tools" not in request
    assert request["messages"][-1] == {
        "role": "user",
        "content": "customer: Two margheritas for 7 pm",
    }


async def test_set_conversation_ai_turns_ai_off_and_on_for_one_conversation(
    server: RunningServer, api: Api, llm: FakeOpenAI
) -> None:
    owner = await member(server, api)
    stranger = await member(server, api)
    device_id = await sandbox_device(owner)
    inbound = await simulate(owner, device_id, unique_phone(), "Hi")
    conversation_id = inbound["conversation"]["id"]

    on = await owner.api.data(
        SET_AI, {"input": {"conversationId": conversation_id, "enabled": True}}
    )
    off = await owner.api.data(
        SET_AI, {"input": {"conversationId": conversation_id, "enabled": False}}
    )
    foreign = await stranger.api.data(
        SET_AI, {"input": {"conversationId": conversation_id, "enabled": True}}
    )

    assert on["setConversationAI"]["conversation"]["aiEnabled"] is True
    assert off["setConversationAI"]["conversation"]["aiEnabled"] is False
    assert [e["code"] for e in foreign["setConversationAI"]["userErrors"]] == ["NOT_FOUND"]
