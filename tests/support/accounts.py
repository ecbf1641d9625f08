"""Tiny account factories for tests of any domain.

    user = await register_user(api)                  # OWNER of a new organization
    viewer = await register_user(api, role=Role.VIEWER, organization_of=user)
    await user.api.data("{ me { id } }")

Each user gets its own client IP (``X-Forwarded-For``, trusted from loopback by uvicorn) so the
per-ip rate limits of sign-up and login do not spill between tests.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.models.accounts import Membership, Role, User
from app.platform.ids import from_global_id, to_global_id
from tests.support.client import Api

PASSWORD = "correct horse battery staple"

_counter = itertools.count(1)
_base = random.randint(0, 200)

REGISTER = """
mutation ($input: RegisterInput!) {
  register(input: $input) {
    accessToken refreshToken expiresIn mfaRequired
    user { id email }
    userErrors { field message code }
  }
}
"""

LOGIN = """
mutation ($input: LoginInput!) {
  login(input: $input) {
    accessToken refreshToken expiresIn mfaRequired
    user { id }
    userErrors { field message code }
  }
}
"""


def unique_ip() -> str:
    n = next(_counter)
    return f"10.{_base}.{n // 250}.{n % 250 + 1}"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def client_from(api: Api, ip: str | None = None) -> Api:
    """A client of the same server that appears to come from its own IP address."""
    return Api(api.graphql_url, headers={**api.headers, "X-Forwarded-For": ip or unique_ip()})


@dataclass
class SignedUp:
    api: Api  # signed in as this user, from this user's IP
    access_token: str
    refresh_token: str
    user_id: str  # global ids
    organization_id: str
    email: str
    password: str
    ip: str

    @property
    def user_pk(self) -> int:
        return from_global_id(self.user_id)[1]

    @property
    def organization_pk(self) -> int:
        return from_global_id(self.organization_id)[1]

    @property
    def anonymous(self) -> Api:
        return self.api.as_user(None)


async def register_user(
    api: Api,
    *,
    role: Role = Role.OWNER,
    organization_of: SignedUp | None = None,
    email: str | None = None,
    password: str = PASSWORD,
) -> SignedUp:
    """Sign up a new user; with ``organization_of`` also make them a member of that org."""
    ip = unique_ip()
    client = client_from(api, ip)
    email = email or unique_email()
    data = await client.data(
        REGISTER,
        {
            "input": {
                "email": email,
                "password": password,
                "name": "Test User",
                "organizationName": f"Org {uuid.uuid4().hex[:6]}",
            }
        },
    )
    payload = data["register"]
    assert not payload["userErrors"], payload["userErrors"]
    user_id = payload["user"]["id"]
    user_pk = from_global_id(user_id)[1]
    await _confirm_email(user_pk)
    organization_pk = (await Membership.filter(user_id=user_pk).first()).organization_id  # type: ignore[union-attr]
    if organization_of is not None:
        # Joining directly keeps tests that are not about invitations short.
        await Membership.create(
            user_id=user_pk, organization_id=organization_of.organization_pk, role=role
        )
        organization_pk = organization_of.organization_pk
        client = Api(
            api.graphql_url,
            headers={
                **client.headers,
                "X-Organization-Id": to_global_id("Organization", organization_pk),
            },
        )
    return SignedUp(
        api=client.as_user(payload["accessToken"]),
        access_token=payload["accessToken"],
        refresh_token=payload["refreshToken"],
        user_id=user_id,
        organization_id=to_global_id("Organization", organization_pk),
        email=email,
        password=password,
        ip=ip,
    )


async def _confirm_email(user_pk: int) -> None:
    """What the emailed confirmation link does (`confirmEmail`), without the mail: the account
    claims its address, so it can sign in with it (tests of the link itself use the mail)."""
    user = await User.get(id=user_pk)
    assert user.unconfirmed_email is not None
    user.email, user.unconfirmed_email = user.unconfirmed_email, None
    user.email_verified_at = datetime.now(UTC)
    await user.save(update_fields=["email", "unconfirmed_email", "email_verified_at", "updated_at"])


async def login(api: Api, email: str, password: str, otp: str | None = None) -> dict:  # type: ignore[type-arg]
    data = await api.data(LOGIN, {"input": {"email": email, "password": password, "otp": otp}})
    return data["login"]  # type: ignore[no-any-return]


async def mailed_token(log_lines: Any, email: str, path: str, *, nth: int = 0) -> str:
    """The token of the ``nth`` ``/path?token=…`` link mailed to ``email`` (dev mail log)."""
    for _ in range(200):
        tokens = [
            match.group(1)
            for event in log_lines.events()
            if event.get("event") == "mail" and event.get("to") == email
            if (match := re.search(rf"/{path}\?token=([A-Za-z0-9_-]+)", event["body"]))
        ]
        if len(tokens) > nth:
            return tokens[nth]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {path} mail for {email} in the log")


def mails_to(log_lines: Any, email: str) -> list[dict[str, Any]]:
    return [e for e in log_lines.events() if e.get("event") == "mail" and e.get("to") == email]


def with_organization(user: SignedUp, organization_id: str | None) -> Api:
    """``user``'s client, choosing ``organization_id`` with the X-Organization-Id header."""
    headers = {k: v for k, v in user.api.headers.items() if k != "X-Organization-Id"}
    if organization_id is not None:
        headers["X-Organization-Id"] = organization_id
    return Api(user.api.graphql_url, user.access_token, headers)
