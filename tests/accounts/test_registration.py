"""Registering does not reveal whether an email has an account; the caller sees their email."""

from __future__ import annotations

from tests.support.accounts import (
    PASSWORD,
    REGISTER,
    client_from,
    login,
    mailed_token,
    mails_to,
    register_user,
    unique_email,
)
from tests.support.client import Api

LOGIN = """
mutation ($input: LoginInput!) {
  login(input: $input) { accessToken user { id email } userErrors { code } }
}
"""
CONFIRM = """
mutation ($t: String!) {
  confirmEmail(input: {token: $t}) { user { emailVerified } userErrors { code } }
}
"""
ME = "{ me { email emailVerified } }"


def _register_input(email: str, password: str = PASSWORD) -> dict[str, object]:
    return {
        "input": {
            "email": email,
            "password": password,
            "name": "Ada",
            "organizationName": "Ada's shop",
        }
    }


def _shape(payload: dict[str, object]) -> dict[str, object]:
    """What a client can tell apart: which fields are set, and to what for the flags."""
    return {
        "tokens": bool(payload["accessToken"] and payload["refreshToken"]),
        "expiresIn": payload["expiresIn"],
        "mfaRequired": payload["mfaRequired"],
        "user": sorted(payload["user"]) if payload["user"] else None,  # type: ignore[arg-type]
        "userErrors": payload["userErrors"],
    }


async def _register(api: Api, email: str, password: str) -> dict[str, object]:
    client = client_from(api)
    payload: dict[str, object] = (await client.data(REGISTER, _register_input(email, password)))[
        "register"
    ]
    me = (await client.as_user(payload["accessToken"]).data(ME))["me"]  # type: ignore[arg-type]
    return {**_shape(payload), "email": payload["user"]["email"], "me": me}  # type: ignore[index]


async def test_registering_a_taken_email_answers_like_a_new_one_and_warns_the_owner(api, log_lines):
    owner = await register_user(api)
    fresh = unique_email()
    attacker_password = "an attacker's passphrase"

    taken = await _register(api, owner.email, attacker_password)
    new = await _register(api, fresh, attacker_password)

    assert {**taken, "email": None, "me": None} == {**new, "email": None, "me": None}
    assert taken["email"] == owner.email and new["email"] == fresh
    assert taken["me"] == {"email": owner.email, "emailVerified": False}
    assert new["me"] == {"email": fresh, "emailVerified": False}
    await mailed_token(log_lines, fresh, "confirm-email")
    warning = [m for m in mails_to(log_lines, owner.email) if "tried" in m["subject"]]
    assert len(warning) == 1 and "token=" not in warning[0]["body"]
    # Nothing about the owner's account changed, and the stranger's password opens nothing.
    assert (await login(client_from(api), owner.email, owner.password))["accessToken"]
    assert (await login(client_from(api), owner.email, attacker_password))["accessToken"] is None


async def test_a_new_account_signs_in_with_its_email_once_the_link_confirms_it(api, log_lines):
    email = unique_email()
    await client_from(api).data(REGISTER, _register_input(email))

    before = (await login(client_from(api), email, PASSWORD))["userErrors"]
    token = await mailed_token(log_lines, email, "confirm-email")
    confirmed = (await client_from(api).data(CONFIRM, {"t": token}))["confirmEmail"]
    after = await login(client_from(api), email, PASSWORD)

    # Before the link, the same answer as a wrong password: signing in tells nothing either.
    assert before == [{"field": None, "message": "Invalid email or password.", "code": "INVALID"}]
    assert confirmed == {"user": {"emailVerified": True}, "userErrors": []}
    assert after["accessToken"]


async def test_register_and_login_answer_the_signed_in_users_own_email(api, log_lines):
    email = unique_email()
    client = client_from(api)

    registered = (await client.data(REGISTER, _register_input(email)))["register"]
    await client.data(CONFIRM, {"t": await mailed_token(log_lines, email, "confirm-email")})
    signed_in = (await client.data(LOGIN, {"input": {"email": email, "password": PASSWORD}}))[
        "login"
    ]

    assert registered["user"]["email"] == email
    assert signed_in["user"]["email"] == email
