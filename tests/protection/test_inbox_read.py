"""The inbox loads what its page asks of each conversation ahead (app.schema.messaging.queries):
however the query spells it (fragments, aliases, variables, `nodes`), the answer is the same
as field-by-field loading would give."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from app.dataloaders import messaging as loaders
from app.models.accounts import Role
from app.models.messaging import Contact, Conversation, Device, Message
from app.platform.context import Context, Loaders
from app.platform.pagination import page_args
from app.schema.executor import ParleyExecutor
from tests.support.client import Api
from tests.support.messaging import SEND, eventually, member, sandbox_device, simulate, unique_phone
from tests.support.server import RunningServer

INBOX = """
query ($n: Int!, $before: String) {
  conversations(first: 10) {
    edges { node { ...Thread latest: messages(last: 1) { nodes { body } } } }
    nodes { id assignee { id } older: messages(last: 1, before: $before) { nodes { body } } }
  }
}
fragment Thread on Conversation {
  contact { phoneNumber }
  assignee { id }
  ... on Conversation { messages(last: $n) { edges { cursor node { body } } } }
}
"""


async def test_message_pages_asked_through_fragments_aliases_and_variables(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api, Role.OWNER)
    device_id = await sandbox_device(owner)
    first, second = unique_phone(), unique_phone()
    for text in ("a1", "a2", "a3"):
        await simulate(owner, device_id, first, text)
    await simulate(owner, device_id, second, "b1")

    data = await owner.api.data(INBOX, {"n": 2, "before": None})
    edges = data["conversations"]["edges"]
    cursor = edges[0]["node"]["messages"]["edges"][0]["cursor"]  # of "a2"
    paged = await owner.api.data(INBOX, {"n": 2, "before": cursor})

    threads = [
        (
            edge["node"]["contact"]["phoneNumber"],
            [e["node"]["body"] for e in edge["node"]["messages"]["edges"]],
            [n["body"] for n in edge["node"]["latest"]["nodes"]],
            edge["node"]["assignee"],
        )
        for edge in edges
    ]
    assert threads == [(first, ["a2", "a3"], ["a3"], None), (second, ["b1"], ["b1"], None)]
    assert [n["older"]["nodes"] for n in data["conversations"]["nodes"]] == [
        [{"body": "a3"}],
        [{"body": "b1"}],
    ]
    assert paged["conversations"]["nodes"][0]["older"]["nodes"] == [{"body": "a1"}]


MESSAGE_FIELDS = (
    "id direction type body payload status errorCode errorMessage clientMessageId createdAt"
)
PAGE = (
    "query ($id: ID!) { node(id: $id) { ... on Conversation { messages(last: 10) { nodes { "
    + MESSAGE_FIELDS
    + " } } } } }"
)
ONE = "query ($id: ID!) { node(id: $id) { ... on Message { " + MESSAGE_FIELDS + " } } }"


async def test_a_page_of_messages_reads_each_message_as_fetching_it_alone_does(
    server: RunningServer, api: Api
) -> None:
    owner = await member(server, api, Role.OWNER)
    device_id = await sandbox_device(owner)
    inbound = await simulate(owner, device_id, unique_phone(), "hello")
    conversation_id = inbound["conversation"]["id"]
    sent = await owner.api.data(
        SEND,
        {"input": {"conversationId": conversation_id, "text": "hi!", "clientMessageId": "k-1"}},
    )
    assert sent["sendMessage"]["userErrors"] == []

    async def settled() -> Any:  # the sandbox moves the sent message on to READ
        page = (await owner.api.data(PAGE, {"id": conversation_id}))["node"]["messages"]
        return page["nodes"] if page["nodes"][-1]["status"] == "READ" else None

    page = await eventually(settled)
    alone = [(await owner.api.data(ONE, {"id": m["id"]}))["node"] for m in page]

    assert [m["body"] for m in page] == ["hello", "hi!"]
    assert page == alone


async def test_the_hot_loaders_build_models_exactly_as_a_tortoise_queryset_does(
    server: RunningServer, api: Api
) -> None:
    # The inbox's page and the by-id loaders build models from the driver's rows themselves
    # (app.dataloaders.messaging._model_builder): each must equal Tortoise's own, attribute
    # for attribute (enums, times, JSON, nulls), or resolvers would read other values.
    owner = await member(server, api, Role.OWNER)
    device_id = await sandbox_device(owner)
    await simulate(owner, device_id, unique_phone(), "hello")
    await simulate(owner, device_id, unique_phone(), "again")
    conversations = await Conversation.filter(organization_id=owner.organization_id).order_by("id")
    contact_ids = [c.contact_id for c in conversations]
    contacts = {c.id: c for c in await Contact.filter(id__in=contact_ids)}
    device = await Device.get(id=conversations[0].device_id)
    await Contact.filter(id=contact_ids[0]).update(attributes={"plan": "gold"}, tags=["vip"])
    contacts[contact_ids[0]] = await Contact.get(id=contact_ids[0])

    page = await loaders.conversation_page(owner.organization_id, page_args(first=10))
    by_id = await loaders.conversation_by_id().load_many([c.id for c in conversations])
    loaded_contacts = await loaders.contact_by_id().load_many(contact_ids)
    [loaded_device] = await loaders.device_by_id().load_many([device.id])

    assert len(conversations) == 2
    assert [vars(row.conversation) for row in page] == [vars(c) for c in conversations]
    assert [vars(row.contact) for row in page] == [vars(contacts[i]) for i in contact_ids]
    assert [vars(row.device) for row in page] == [vars(device)] * 2
    assert [vars(c) for c in by_id] == [vars(c) for c in conversations]
    assert [vars(c) for c in loaded_contacts] == [vars(contacts[i]) for i in contact_ids]
    assert vars(loaded_device) == vars(device)
    assert loaded_contacts[0].attributes == {"plan": "gold"} and loaded_contacts[0].tags == ["vip"]
    # Message pages are rows, not models: every attribute as Tortoise reads it.
    [page_of_messages] = await loaders.messages_by_conversation().load_many(
        [(conversations[0].id, page_args(last=10))]
    )
    messages = await Message.filter(conversation_id=conversations[0].id).order_by("id")
    attributes = list(Message._meta.fields_db_projection)
    assert [[getattr(m, a) for a in attributes] for m in page_of_messages] == [
        [getattr(m, a) for a in attributes] for m in messages
    ]
    assert [m.body for m in page_of_messages] == ["hello"]


async def test_an_inbox_read_leaves_nothing_for_the_cyclic_collector(
    server: RunningServer, api: Api
) -> None:
    # An operation's objects (executor, context, loaders, every row read) are freed when it
    # completes; a reference cycle among them would leave them all to the cyclic collector,
    # whose runs cost ~10 % of the CPU of an inbox read.
    if not server.settings.fast_executor:
        pytest.skip(
            "ParleyExecutor.build_response breaks graphql-core's cycle (an executor holding "
            "its own bound methods); with PARLEY_FAST_EXECUTOR=false, stock execution keeps it"
        )
    owner = await member(server, api, Role.OWNER)
    device_id = await sandbox_device(owner)
    for text in ("one", "two"):
        await simulate(owner, device_id, unique_phone(), text)
    await owner.api.data(INBOX, {"n": 2, "before": None})  # caches warmed
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            data = await owner.api.data(INBOX, {"n": 2, "before": None})
        gc.collect()
        left = [
            type(o).__name__
            for o in gc.garbage
            if isinstance(o, (ParleyExecutor, Context, Loaders, Conversation, loaders.MessageRow))
        ]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()

    assert len(data["conversations"]["edges"]) == 2
    assert left == []
