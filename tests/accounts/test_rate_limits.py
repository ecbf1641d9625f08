"""Sign-up, refresh and password reset limits (login's is in test_attacks.py)."""

from __future__ import annotations

from typing import Any

from tests.support.accounts import REGISTER, client_from, register_user

REFRESH = """
mutation ($token: String!) { refreshToken(input: {refreshToken: $token}) { userErrors { code } } }
"""
REQUEST_RESET = "mutation ($email: String!) { requestPasswordReset(input: {email: $email}) { ok } }"


def _outcome(result: dict[str, Any]) -> str:
    return str(result["errors"][0]["extensions"]["code"]) if result["errors"] else "OK"


async def test_a_sixth_sign_up_from_one_ip_within_the_hour_is_rate_limited(api):
    client = client_from(api)
    # Rejected sign-ups count too, and keep the test from creating accounts.
    too_short = {
        "email": "x@example.com",
        "password": "short",
        "name": "X",
        "organizationName": "X",
    }

    outcomes = [_outcome(await client.call(REGISTER, {"input": too_short})) for _ in range(6)]
    limited = await client.call(REGISTER, {"input": too_short})
    elsewhere = await client_from(api).call(REGISTER, {"input": too_short})

    assert outcomes == ["OK"] * 5 + ["RATE_LIMITED"]
    assert 60 < limited["errors"][0]["extensions"]["retryAfter"] <= 3600
    assert _outcome(elsewhere) == "OK"


async def test_the_thirty_first_refresh_from_one_ip_within_the_minute_is_rate_limited(api):
    client = client_from(api)

    outcomes = [_outcome(await client.call(REFRESH, {"token": f"made-up-{n}"})) for n in range(31)]
    limited = await client.call(REFRESH, {"token": "made-up"})

    assert outcomes == ["OK"] * 30 + ["RATE_LIMITED"]
    assert 1 <= limited["errors"][0]["extensions"]["retryAfter"] <= 60


async def test_a_sixth_password_reset_for_one_account_is_rate_limited_from_any_ip(api):
    user = await register_user(api)

    outcomes = [
        _outcome(await client_from(api).call(REQUEST_RESET, {"email": user.email}))
        for _ in range(6)
    ]

    assert outcomes == ["OK"] * 5 + ["RATE_LIMITED"]
