"""Password reset (same answer for every email; ends every session) and password change."""

from __future__ import annotations

from typing import Any

from tests.support.accounts import (
    client_from,
    login,
    mailed_token,
    mails_to,
    register_user,
    unique_email,
)

REQUEST_RESET = """
mutation ($email: String!) { requestPasswordReset(input: {email: $email}) { ok userErrors { code } } }
"""
RESET = """
mutation ($token: String!, $password: String!) {
  resetPassword(input: {token: $token, password: $password}) {
    accessToken refreshToken userErrors { field code }
  }
}
"""
CHANGE = """
mutation ($current: String!, $new: String!) {
  changePassword(input: {currentPassword: $current, newPassword: $new}) {
    user { id } userErrors { field code }
  }
}
"""
REFRESH = """
mutation ($token: String!) {
  refreshToken(input: {refreshToken: $token}) { accessToken userErrors { code } }
}
"""
NEW_PASSWORD = "a brand new passphrase"


def _code(result: dict[str, Any]) -> str:
    return str(result["errors"][0]["extensions"]["code"])


async def test_a_reset_request_answers_the_same_for_known_and_unknown_emails(api, log_lines):
    user = await register_user(api)
    unknown = unique_email("nobody")
    client = client_from(api)

    for_unknown = await client.call(REQUEST_RESET, {"email": unknown})
    for_known = await client.call(REQUEST_RESET, {"email": user.email.upper()})

    assert (for_unknown["data"], for_unknown["errors"]) == (for_known["data"], for_known["errors"])
    assert for_known["data"] == {"requestPasswordReset": {"ok": True, "userErrors": []}}
    await mailed_token(log_lines, user.email, "reset-password")  # queued after the unknown one
    assert mails_to(log_lines, unknown) == []


async def test_resetting_the_password_ends_every_session(api, log_lines):
    user = await register_user(api)
    other_device = await login(client_from(api), user.email, user.password)
    await client_from(api).data(REQUEST_RESET, {"email": user.email})
    token = await mailed_token(log_lines, user.email, "reset-password")

    reset = (await client_from(api).data(RESET, {"token": token, "password": NEW_PASSWORD}))[
        "resetPassword"
    ]

    assert reset["userErrors"] == [] and reset["accessToken"]
    for old_refresh in [user.refresh_token, other_device["refreshToken"]]:
        refreshed = await client_from(api).data(REFRESH, {"token": old_refresh})
        assert refreshed["refreshToken"] == {
            "accessToken": None,
            "userErrors": [{"code": "INVALID"}],
        }
    for old_access in [user.access_token, other_device["accessToken"]]:
        assert _code(await api.as_user(old_access).call("{ me { id } }")) == "UNAUTHENTICATED"
    assert (await login(client_from(api), user.email, user.password))["accessToken"] is None
    assert (await login(client_from(api), user.email, NEW_PASSWORD))["accessToken"]
    assert (await api.as_user(reset["accessToken"]).data("{ me { id } }"))["me"]["id"] == (
        user.user_id
    )
    replayed = await client_from(api).data(RESET, {"token": token, "password": "yet another one!"})
    assert replayed["resetPassword"]["userErrors"] == [
        {"field": ["input", "token"], "code": "INVALID"}
    ]


async def test_a_reset_with_a_weak_password_leaves_the_link_usable(api, log_lines):
    user = await register_user(api)
    await client_from(api).data(REQUEST_RESET, {"email": user.email})
    token = await mailed_token(log_lines, user.email, "reset-password")

    weak = await client_from(api).data(RESET, {"token": token, "password": "short"})
    strong = await client_from(api).data(RESET, {"token": token, "password": NEW_PASSWORD})

    assert weak["resetPassword"]["userErrors"] == [
        {"field": ["input", "password"], "code": "INVALID"}
    ]
    assert strong["resetPassword"]["userErrors"] == []


async def test_a_made_up_reset_token_is_refused(api):
    reset = await client_from(api).data(
        RESET, {"token": "not-a-real-token", "password": NEW_PASSWORD}
    )

    assert reset["resetPassword"] == {
        "accessToken": None,
        "refreshToken": None,
        "userErrors": [{"field": ["input", "token"], "code": "INVALID"}],
    }


async def test_changing_the_password_keeps_this_session_and_ends_the_others(api):
    user = await register_user(api)
    other_device = await login(client_from(api), user.email, user.password)

    changed = await user.api.data(CHANGE, {"current": user.password, "new": NEW_PASSWORD})

    assert changed["changePassword"] == {"user": {"id": user.user_id}, "userErrors": []}
    assert (await user.api.data("{ me { id } }"))["me"]["id"] == user.user_id
    assert (await client_from(api).data(REFRESH, {"token": user.refresh_token}))["refreshToken"][
        "accessToken"
    ]
    other = await api.as_user(other_device["accessToken"]).call("{ me { id } }")
    assert _code(other) == "UNAUTHENTICATED"
    other_refresh = await client_from(api).data(REFRESH, {"token": other_device["refreshToken"]})
    assert other_refresh["refreshToken"]["userErrors"] == [{"code": "INVALID"}]
    assert (await login(client_from(api), user.email, user.password))["accessToken"] is None
    assert (await login(client_from(api), user.email, NEW_PASSWORD))["accessToken"]


async def test_changing_the_password_needs_the_current_one_and_a_good_new_one(api):
    user = await register_user(api)

    wrong = await user.api.data(CHANGE, {"current": "not my password", "new": NEW_PASSWORD})
    weak = await user.api.data(CHANGE, {"current": user.password, "new": user.email})
    anonymous = await user.anonymous.call(CHANGE, {"current": user.password, "new": NEW_PASSWORD})

    assert wrong["changePassword"]["userErrors"] == [
        {"field": ["input", "currentPassword"], "code": "INVALID"}
    ]
    assert weak["changePassword"]["userErrors"] == [
        {"field": ["input", "newPassword"], "code": "INVALID"}
    ]
    assert _code(anonymous) == "UNAUTHENTICATED"
    assert (await login(client_from(api), user.email, user.password))["accessToken"]
