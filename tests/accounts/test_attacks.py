"""Must-show 3: attacks that fail."""

from __future__ import annotations

import base64
import json
import time

import pyotp
from pydantic import SecretStr

from app.models.accounts import Membership, Role
from app.platform.security import issue_access_token
from tests.support.accounts import LOGIN, client_from, login, register_user

ME = "{ me { id } }"


def _code(result: dict) -> str:  # type: ignore[type-arg]
    return result["errors"][0]["extensions"]["code"]


def _b64(data: dict) -> str:  # type: ignore[type-arg]
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_an_alg_none_token_is_rejected(api, server):
    user = await register_user(api)
    claims = json.loads(base64.urlsafe_b64decode(user.access_token.split(".")[1] + "=="))
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."

    result = await api.as_user(forged).call(ME)

    assert _code(result) == "UNAUTHENTICATED"


async def test_a_token_signed_with_another_key_is_rejected(api, server):
    user = await register_user(api)
    other = server.settings.model_copy(update={"secret_key": SecretStr("another-key-" + "x" * 40)})
    token, _ = issue_access_token(other, user_id=user.user_pk, organization_id=user.organization_pk)

    assert _code(await api.as_user(token).call(ME)) == "UNAUTHENTICATED"


async def test_an_expired_token_is_rejected(api, server):
    user = await register_user(api)
    token, _ = issue_access_token(
        server.settings, user_id=user.user_pk, organization_id=user.organization_pk, ttl_seconds=-60
    )

    assert _code(await api.as_user(token).call(ME)) == "UNAUTHENTICATED"


async def test_a_removed_members_token_no_longer_reaches_the_organization(api):
    owner = await register_user(api)
    member = await register_user(api, role=Role.AGENT, organization_of=owner)
    assert (await member.api.data("{ organization { id } }"))["organization"]["id"] == (
        owner.organization_id
    )

    await Membership.filter(user_id=member.user_pk, organization_id=owner.organization_pk).delete()
    result = await member.api.call("{ organization { members { edges { node { id } } } } }")

    assert _code(result) == "NOT_FOUND"
    assert result["data"] is None


async def test_the_sixth_wrong_password_locks_the_account_even_for_the_right_one(api):
    user = await register_user(api)
    client = client_from(api)

    for _ in range(5):
        failed = await login(client, user.email, "wrong password here")
        assert failed["userErrors"][0]["message"] == "Invalid email or password."
    locked = await login(client, user.email, user.password)

    assert locked["accessToken"] is None
    assert locked["userErrors"][0]["message"] == "Invalid email or password."


async def test_unknown_and_known_emails_get_the_same_login_error(api):
    user = await register_user(api)
    client = client_from(api)

    unknown = await login(client, "nobody-" + user.email, "wrong password here")
    known = await login(client, user.email, "wrong password here")

    assert unknown["userErrors"] == known["userErrors"]


async def test_twenty_rapid_logins_from_one_ip_are_rate_limited(api):
    client = client_from(api)
    codes = []

    for _ in range(20):
        result = await client.call(
            LOGIN, {"input": {"email": "nobody@example.com", "password": "whatever-long"}}
        )
        codes.append(_code(result) if result["errors"] else "OK")

    assert codes[:10] == ["OK"] * 10
    assert set(codes[10:]) == {"RATE_LIMITED"}
    last = await client.call(LOGIN, {"input": {"email": "x@example.com", "password": "y" * 10}})
    assert 1 <= last["errors"][0]["extensions"]["retryAfter"] <= 60


async def test_a_viewer_calling_an_admin_mutation_is_forbidden(api):
    owner = await register_user(api)
    viewer = await register_user(api, role=Role.VIEWER, organization_of=owner)

    result = await viewer.api.call(
        'mutation { inviteMember(input: {email: "x@example.com", role: AGENT}) { email } }'
    )

    assert _code(result) == "FORBIDDEN"


async def test_a_member_of_another_organization_reads_like_a_missing_id(api):
    org_a = await register_user(api)
    org_b = await register_user(api)
    b_member = await org_b.api.data("{ organization { members { edges { node { id } } } } }")
    b_member_id = b_member["organization"]["members"]["edges"][0]["node"]["id"]

    seen = await org_a.api.data("query ($id: ID!) { node(id: $id) { id } }", {"id": b_member_id})
    removal = await org_a.api.call(
        "mutation ($id: ID!) { removeMember(input: {memberId: $id}) { removedMemberId } }",
        {"id": b_member_id},
    )

    assert seen == {"node": None}
    assert _code(removal) == "NOT_FOUND"


async def test_mfa_needs_a_right_code_and_a_recovery_code_works_once(api):
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
    codes = confirmed["confirmTotpEnrollment"]["recoveryCodes"]
    assert len(codes) == 10
    client = client_from(api)

    without = await login(client, user.email, user.password)
    wrong = await login(
        client, user.email, user.password, otp="000000" if totp.now() != "000000" else "111111"
    )
    # The enrolment code's time step is spent; the next step's code is accepted (clock drift).
    right = await login(client, user.email, user.password, otp=totp.at(time.time() + totp.interval))
    recovery = await login(client, user.email, user.password, otp=codes[0])
    recovery_again = await login(client, user.email, user.password, otp=codes[0])

    assert without["mfaRequired"] is True and without["accessToken"] is None
    assert wrong["accessToken"] is None and wrong["userErrors"][0]["field"] == ["input", "otp"]
    assert right["accessToken"] and right["mfaRequired"] is False
    assert recovery["accessToken"]
    assert recovery_again["accessToken"] is None
