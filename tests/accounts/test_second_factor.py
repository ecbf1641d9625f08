"""The second factor holds on every path that issues tokens, and a TOTP code works once."""

from __future__ import annotations

import time

import pyotp

from tests.support.accounts import SignedUp, client_from, login, mailed_token, register_user
from tests.support.client import Api

RESET = """
mutation ($input: ResetPasswordInput!) {
  resetPassword(input: $input) {
    accessToken refreshToken mfaRequired userErrors { field code }
  }
}
"""
REQUEST_RESET = "mutation ($e: String!) { requestPasswordReset(input: {email: $e}) { ok } }"
NEW_PASSWORD = "a brand new passphrase 42"


async def _with_totp(api: Api) -> tuple[SignedUp, pyotp.TOTP, list[str]]:
    user = await register_user(api)
    begun = await user.api.data(
        "mutation ($p: String!) { beginTotpEnrollment(input: {password: $p}) { otpauthUri } }",
        {"p": user.password},
    )
    totp = pyotp.parse_uri(begun["beginTotpEnrollment"]["otpauthUri"])
    confirmed = await user.api.data(
        "mutation ($o: String!) { confirmTotpEnrollment(input: {otp: $o}) { recoveryCodes } }",
        {"o": totp.now()},
    )
    return user, totp, confirmed["confirmTotpEnrollment"]["recoveryCodes"]


def _next_code(totp: pyotp.TOTP) -> str:
    # The enrolment code's step is spent; the next step's code is accepted (clock drift).
    return totp.at(time.time() + totp.interval)


async def test_a_password_reset_link_does_not_sign_in_past_the_second_factor(api, log_lines):
    user, totp, recovery_codes = await _with_totp(api)
    client = client_from(api)
    await client.data(REQUEST_RESET, {"e": user.email})
    token = await mailed_token(log_lines, user.email, "reset-password")

    without_code = (
        await client.data(RESET, {"input": {"token": token, "password": NEW_PASSWORD}})
    )["resetPassword"]
    assert without_code == {
        "accessToken": None,
        "refreshToken": None,
        "mfaRequired": True,
        "userErrors": [],
    }
    old_password_still_works = await login(client, user.email, user.password, _next_code(totp))
    with_code = (
        await client.data(
            RESET,
            {"input": {"token": token, "password": NEW_PASSWORD, "otp": recovery_codes[0]}},
        )
    )["resetPassword"]

    assert old_password_still_works["accessToken"]
    assert with_code["accessToken"] and with_code["refreshToken"]
    assert with_code["mfaRequired"] is False
    assert (await login(client, user.email, NEW_PASSWORD))["mfaRequired"] is True


async def test_a_password_reset_with_a_wrong_code_issues_no_tokens(api, log_lines):
    user, totp, _ = await _with_totp(api)
    client = client_from(api)
    await client.data(REQUEST_RESET, {"e": user.email})
    token = await mailed_token(log_lines, user.email, "reset-password")
    wrong = "000000" if _next_code(totp) != "000000" else "111111"

    answer = (
        await client.data(
            RESET, {"input": {"token": token, "password": NEW_PASSWORD, "otp": wrong}}
        )
    )["resetPassword"]

    assert answer["accessToken"] is None and answer["mfaRequired"] is True
    assert answer["userErrors"] == [{"field": ["input", "otp"], "code": "INVALID"}]


async def test_a_totp_code_signs_in_only_once(api):
    user, totp, _ = await _with_totp(api)
    code = _next_code(totp)

    first = await login(client_from(api), user.email, user.password, code)
    replayed = await login(client_from(api), user.email, user.password, code)

    assert first["accessToken"] and first["mfaRequired"] is False
    assert replayed["accessToken"] is None and replayed["mfaRequired"] is True
    assert replayed["userErrors"][0]["field"] == ["input", "otp"]


async def test_the_enrolment_code_does_not_sign_in_again(api):
    user = await register_user(api)
    begun = await user.api.data(
        "mutation ($p: String!) { beginTotpEnrollment(input: {password: $p}) { otpauthUri } }",
        {"p": user.password},
    )
    totp = pyotp.parse_uri(begun["beginTotpEnrollment"]["otpauthUri"])
    code = totp.now()
    await user.api.data(
        "mutation ($o: String!) { confirmTotpEnrollment(input: {otp: $o}) { recoveryCodes } }",
        {"o": code},
    )

    replayed = await login(client_from(api), user.email, user.password, code)

    assert replayed["accessToken"] is None and replayed["mfaRequired"] is True
