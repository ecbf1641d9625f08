"""Must-show 1: register → confirm email → login → me → refresh (rotation, reuse) → logout."""

from __future__ import annotations

import asyncio
import json
import re

from tests.support.accounts import LOGIN, REGISTER, client_from, unique_email

ME = "{ me { id email emailVerified name sessions { id current } } organization { id name } }"
CONFIRM = """
mutation ($token: String!) {
  confirmEmail(input: {token: $token}) { user { emailVerified } userErrors { code } }
}
"""
REFRESH = """
mutation ($token: String!) {
  refreshToken(input: {refreshToken: $token}) {
    accessToken refreshToken userErrors { field code message }
  }
}
"""
LOGOUT = "mutation { logout(input: {}) { revokedSessions userErrors { code } } }"


async def _mail_link_token(log_lines, email: str, path: str) -> str:
    for _ in range(100):
        for event in log_lines.events():
            if event.get("event") == "mail" and event.get("to") == email:
                match = re.search(rf"/{path}\?token=([A-Za-z0-9_-]+)", event["body"])
                if match:
                    return match.group(1)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {path} mail for {email} in the log")


async def test_a_new_user_signs_up_confirms_signs_in_refreshes_and_signs_out(api, log_lines):
    client = client_from(api)
    email = unique_email("journey")
    password = "a long enough passphrase"

    registered = await client.data(
        REGISTER,
        {
            "input": {
                "email": email,
                "password": password,
                "name": "Ada",
                "organizationName": "Acme",
            }
        },
    )
    assert registered["register"]["userErrors"] == []
    token = await _mail_link_token(log_lines, email, "confirm-email")
    confirmed = await client.data(CONFIRM, {"token": token})
    assert confirmed["confirmEmail"] == {"user": {"emailVerified": True}, "userErrors": []}
    reused_link = await client.data(CONFIRM, {"token": token})
    assert reused_link["confirmEmail"]["userErrors"] == [{"code": "INVALID"}]

    signed_in = (await client.data(LOGIN, {"input": {"email": email, "password": password}}))[
        "login"
    ]
    assert signed_in["userErrors"] == [] and signed_in["mfaRequired"] is False
    me = await client.as_user(signed_in["accessToken"]).data(ME)
    assert me["me"]["email"] == email and me["me"]["emailVerified"] is True
    assert me["organization"]["name"] == "Acme"
    assert [s["current"] for s in me["me"]["sessions"]].count(True) == 1

    first_refresh = signed_in["refreshToken"]
    rotated = (await client.data(REFRESH, {"token": first_refresh}))["refreshToken"]
    assert rotated["userErrors"] == []
    assert rotated["refreshToken"] != first_refresh
    assert rotated["accessToken"] != signed_in["accessToken"]

    replayed = (await client.data(REFRESH, {"token": first_refresh}))["refreshToken"]
    assert replayed["userErrors"][0]["code"] == "INVALID" and replayed["accessToken"] is None
    newest_after_reuse = (await client.data(REFRESH, {"token": rotated["refreshToken"]}))[
        "refreshToken"
    ]
    assert newest_after_reuse["userErrors"][0]["code"] == "INVALID"
    family_access = await client.as_user(rotated["accessToken"]).call("{ me { id } }")
    assert family_access["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    again = (await client.data(LOGIN, {"input": {"email": email, "password": password}}))["login"]
    signed_in_client = client.as_user(again["accessToken"])
    logged_out = await signed_in_client.data(LOGOUT)
    assert logged_out["logout"] == {"revokedSessions": 1, "userErrors": []}
    after = await signed_in_client.call("{ me { id } }")
    assert after["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert json.dumps(after).count("revoked") >= 1
