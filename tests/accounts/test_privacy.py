"""Who reads what: sign-in IPs and user agents, AI agents' system prompts."""

from __future__ import annotations

from app.models.accounts import Role
from tests.support.accounts import SignedUp, login, register_user
from tests.support.client import Api

EVENTS = "{ auditEvents(first: 100) { edges { node { kind ip data actor { id } } } } }"
CREATE_AGENT = """
mutation ($input: CreateAIAgentInput!) {
  createAIAgent(input: $input) { agent { id } userErrors { code } }
}
"""
PROMPTS = "{ aiAgents { edges { node { name instructions } } } }"
NAMES = "{ aiAgents { edges { node { name } } } }"


BROWSER = "Mozilla/5.0 (test browser)"


async def _sign_in_again(user: SignedUp) -> None:
    """A login from the user's own address and browser, recorded as LOGIN_SUCCEEDED."""
    client = Api(user.api.graphql_url, headers={**user.api.headers, "User-Agent": BROWSER})
    assert (await login(client, user.email, user.password))["accessToken"]


async def _logins_seen_by(who: SignedUp, of: SignedUp) -> list[dict[str, object]]:
    edges = (await who.api.data(EVENTS))["auditEvents"]["edges"]
    return [
        {"ip": e["node"]["ip"], "userAgent": e["node"]["data"].get("user_agent")}
        for e in edges
        if e["node"]["kind"] == "LOGIN_SUCCEEDED" and e["node"]["actor"]["id"] == of.user_id
    ]


async def test_where_a_member_signs_in_from_is_theirs_and_their_owners_to_see(api):
    owner = await register_user(api)
    admin = await register_user(api, role=Role.ADMIN, organization_of=owner)
    agent = await register_user(api, role=Role.AGENT, organization_of=owner)
    await _sign_in_again(agent)
    await _sign_in_again(admin)

    agent_seen_by_admin = await _logins_seen_by(admin, agent)
    agent_seen_by_owner = await _logins_seen_by(owner, agent)
    admin_seen_by_admin = await _logins_seen_by(admin, admin)

    assert agent_seen_by_admin == [{"ip": "", "userAgent": None}]
    assert agent_seen_by_owner == [{"ip": agent.ip, "userAgent": BROWSER}]
    assert admin_seen_by_admin == [{"ip": admin.ip, "userAgent": BROWSER}]


async def _create_agent(api: Api) -> None:
    created = await api.data(
        CREATE_AGENT,
        {"input": {"name": "Front desk", "instructions": "Never offer more than 10% off."}},
    )
    assert created["createAIAgent"]["userErrors"] == []


async def test_only_admins_and_owners_read_an_ai_agents_system_prompt(api):
    owner = await register_user(api)
    admin = await register_user(api, role=Role.ADMIN, organization_of=owner)
    agent = await register_user(api, role=Role.AGENT, organization_of=owner)
    viewer = await register_user(api, role=Role.VIEWER, organization_of=owner)
    await _create_agent(owner.api)

    as_admin = await admin.api.data(PROMPTS)
    as_agent = await agent.api.call(PROMPTS)
    as_viewer = await viewer.api.call(PROMPTS)
    names = await viewer.api.data(NAMES)

    prompt = "Never offer more than 10% off."
    assert as_admin["aiAgents"]["edges"][0]["node"]["instructions"] == prompt
    for refused in (as_agent, as_viewer):
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
        assert prompt not in str(refused)
    assert names["aiAgents"]["edges"] == [{"node": {"name": "Front desk"}}]
