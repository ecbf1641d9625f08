"""Must-show 4: no password, token, TOTP secret, OTP or recovery code in any log line.

The one deliberate exception is the development mail log (``parley.devmail``): without an SMTP
host, development and test write each mail, link included, to the log. The journey checks that
a link token appears in that line and in no other; the unit tests below check that the line is
never written in production or when SMTP is configured.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import aiosmtplib
import pyotp
import pytest

from app.accounts.mail import seal_body
from app.platform.config import Settings
from app.platform.logging import configure_logging
from app.workers.email import MailNotConfigured, send_email
from tests.support.accounts import LOGIN, REGISTER, client_from, unique_email

CONFIRM = "mutation ($t: String!) { confirmEmail(input: {token: $t}) { userErrors { code } } }"
REFRESH = """
mutation ($t: String!) { refreshToken(input: {refreshToken: $t}) {
  accessToken refreshToken userErrors { code } } }
"""
BEGIN_TOTP = "mutation ($p: String!) { beginTotpEnrollment(input: {password: $p}) { otpauthUri } }"
CONFIRM_TOTP = """
mutation ($o: String!) { confirmTotpEnrollment(input: {otp: $o}) { recoveryCodes userErrors { code } } }
"""
REQUEST_RESET = "mutation ($e: String!) { requestPasswordReset(input: {email: $e}) { ok } }"
RESET = """
mutation ($t: String!, $p: String!, $o: String) {
  resetPassword(input: {token: $t, password: $p, otp: $o}) {
    accessToken refreshToken userErrors { code } } }
"""
LOGOUT = """
mutation ($r: String) { logout(input: {refreshToken: $r}) { revokedSessions userErrors { code } } }
"""


@pytest.fixture
def debug_logging() -> Iterator[None]:
    """The app at DEBUG, so lines that only appear when an operator turns logging up count too.

    gql, the test's own client, logs whole request bodies at DEBUG: it is not the app.
    """
    root, client = logging.getLogger(), logging.getLogger("gql")
    levels = root.level, client.level
    root.setLevel(logging.DEBUG)
    client.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.setLevel(levels[0])
        client.setLevel(levels[1])


async def _mailed_token(log_lines: Any, email: str, path: str, skip: int = 0) -> str:
    for _ in range(200):
        tokens = [
            match.group(1)
            for event in log_lines.events()
            if event.get("event") == "mail" and event.get("to") == email
            if (match := re.search(rf"/{path}\?token=([A-Za-z0-9_-]+)", event["body"]))
        ]
        if len(tokens) > skip:
            return tokens[skip]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {path} mail for {email} in the log")


def _lines_with(lines: list[str], secret: str) -> list[str]:
    return [line for line in lines if secret in line]


def _lines_with_code(lines: list[str], code: str) -> list[str]:
    # A 6-digit code must not be mistaken for the microseconds of a timestamp.
    pattern = re.compile(rf"(?<![0-9A-Za-z.]){re.escape(code)}(?![0-9A-Za-z])")
    return [line for line in lines if pattern.search(line)]


async def test_a_whole_account_journey_logs_no_password_token_or_second_factor(
    api, log_lines, debug_logging
):
    client = client_from(api)
    email = unique_email("secrets")
    password, new_password = "first secret passphrase", "second secret passphrase"
    wrong_password = "a wrong guess of a password"
    tokens: list[str] = []  # access and refresh tokens

    registered = (
        await client.data(
            REGISTER,
            {
                "input": {
                    "email": email,
                    "password": password,
                    "name": "Grace",
                    "organizationName": "Secret Org",
                }
            },
        )
    )["register"]
    tokens += [registered["accessToken"], registered["refreshToken"]]
    confirm_token = await _mailed_token(log_lines, email, "confirm-email")
    assert (await client.data(CONFIRM, {"t": confirm_token}))["confirmEmail"]["userErrors"] == []

    failed = await client.data(LOGIN, {"input": {"email": email, "password": wrong_password}})
    assert failed["login"]["accessToken"] is None
    signed_in = (await client.data(LOGIN, {"input": {"email": email, "password": password}}))[
        "login"
    ]
    refreshed = (await client.data(REFRESH, {"t": signed_in["refreshToken"]}))["refreshToken"]
    assert refreshed["userErrors"] == []
    tokens += [signed_in["accessToken"], signed_in["refreshToken"]]
    tokens += [refreshed["accessToken"], refreshed["refreshToken"]]
    user = client.as_user(refreshed["accessToken"])

    uri = (await user.data(BEGIN_TOTP, {"p": password}))["beginTotpEnrollment"]["otpauthUri"]
    totp = pyotp.parse_uri(uri)
    enrol_code = totp.now()
    confirmed = (await user.data(CONFIRM_TOTP, {"o": enrol_code}))["confirmTotpEnrollment"]
    recovery_codes = confirmed["recoveryCodes"]
    # The enrolment code's time step is spent; the next step's code is accepted (clock drift).
    login_code = totp.at(time.time() + totp.interval)
    with_otp = (
        await client.data(
            LOGIN, {"input": {"email": email, "password": password, "otp": login_code}}
        )
    )["login"]
    with_recovery = (
        await client.data(
            LOGIN, {"input": {"email": email, "password": password, "otp": recovery_codes[0]}}
        )
    )["login"]
    assert with_otp["accessToken"] and with_recovery["accessToken"]
    tokens += [with_otp["accessToken"], with_otp["refreshToken"]]
    tokens += [with_recovery["accessToken"], with_recovery["refreshToken"]]

    assert (await client.data(REQUEST_RESET, {"e": email}))["requestPasswordReset"]["ok"]
    reset_token = await _mailed_token(log_lines, email, "reset-password")
    reset = (
        await client.data(RESET, {"t": reset_token, "p": new_password, "o": recovery_codes[1]})
    )["resetPassword"]
    assert reset["userErrors"] == []
    tokens += [reset["accessToken"], reset["refreshToken"]]
    logged_out = await client.as_user(reset["accessToken"]).data(
        LOGOUT, {"r": reset["refreshToken"]}
    )
    assert logged_out["logout"]["revokedSessions"] == 1

    lines = log_lines.lines
    assert any('"event": "request"' in line for line in lines)  # the capture did capture
    for secret in [password, new_password, wrong_password]:
        assert _lines_with(lines, secret) == [], "a password is in the log"
    for token in tokens:
        assert _lines_with(lines, token) == [], "an access or refresh token is in the log"
    for access in tokens[::2]:
        assert _lines_with(lines, access.rsplit(".", 1)[1]) == [], "a JWT signature is logged"
    assert _lines_with(lines, totp.secret) == [], "the TOTP secret is in the log"
    for code in recovery_codes:
        assert _lines_with(lines, code) == [], "a recovery code is in the log"
    for code in {enrol_code, login_code}:
        assert _lines_with_code(lines, code) == [], "an OTP code is in the log"
    for link_token in [confirm_token, reset_token]:
        carrying = _lines_with(lines, link_token)
        assert len(carrying) == 1, "a link token is logged outside its dev mail line"
        mail = json.loads(carrying[0])
        assert (mail["logger"], mail["event"], mail["to"]) == ("parley.devmail", "mail", email)


@pytest.fixture
def app_logging() -> None:
    """Logging as the app configures it, for tests that call a job without a server."""
    configure_logging(json_lines=True, level="INFO")


def _mail_events(log_lines: Any) -> list[dict[str, Any]]:
    return [e for e in log_lines.events() if e.get("logger") in ("parley.email", "parley.devmail")]


def _job_context(**settings: Any) -> dict[str, Any]:
    return {"runtime": SimpleNamespace(settings=Settings(**settings))}


_PRODUCTION = {
    "env": "production",
    "secret_key": "p" * 40,
    "database_url": "postgres://db/parley",
    "redis_url": "redis://redis/0",
}
_BODY = "Reset your password: http://example.test/reset-password?token=LINK-TOKEN-123"


async def test_production_without_an_smtp_host_refuses_to_send_and_logs_no_mail(
    app_logging, log_lines
):
    context = _job_context(**_PRODUCTION)
    sealed = seal_body(context["runtime"].settings, _BODY)

    with pytest.raises(MailNotConfigured, match="PARLEY_SMTP_HOST"):
        await send_email(context, to="a@example.com", subject="Reset", sealed_body=sealed)

    assert "LINK-TOKEN-123" not in log_lines.text()
    assert _mail_events(log_lines) == []


async def test_with_an_smtp_host_the_mail_goes_over_smtp_and_not_to_the_log(
    app_logging, log_lines, monkeypatch
):
    sent: list[Any] = []

    async def fake_smtp_send(message: Any, **options: Any) -> None:
        sent.append((message, options))

    monkeypatch.setattr(aiosmtplib, "send", fake_smtp_send)
    context = _job_context(**_PRODUCTION, smtp_host="smtp.example.test")
    sealed = seal_body(context["runtime"].settings, _BODY)

    await send_email(context, to="a@example.com", subject="Reset", sealed_body=sealed)

    [(message, options)] = sent
    assert message.get_content().strip() == _BODY and options["hostname"] == "smtp.example.test"
    assert "LINK-TOKEN-123" not in log_lines.text()
    assert [e["event"] for e in _mail_events(log_lines)] == ["mail_sent"]


async def test_development_without_an_smtp_host_writes_the_mail_to_the_devmail_log(
    app_logging, log_lines
):
    context = _job_context(env="development")
    sealed = seal_body(context["runtime"].settings, _BODY)

    await send_email(context, to="a@example.com", subject="Reset", sealed_body=sealed)

    [line] = _mail_events(log_lines)
    assert (line["logger"], line["body"]) == ("parley.devmail", _BODY)


def test_the_queued_mail_job_carries_the_body_only_encrypted():
    settings = Settings(env="development")

    sealed = seal_body(settings, _BODY)

    assert "LINK-TOKEN-123" not in sealed
