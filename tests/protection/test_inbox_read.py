"""The inbox loads what its page asks of each conversation ahead (app.schema.messaging.queries):
however the query spells it (fragments, aliases, variables, `nodes`), the answer is the same
as field-by-field loading would give."""

from __future__ import annotations

from app.models.accounts import Role
from tests.support.client import Api
from tests.support.messaging import member, sandbox_device, simulate, unique_phone
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
