"""Sending email: a SAQ job over SMTP (aiosmtplib); without an SMTP host the mail is logged.

Only development and test log the body (it carries the link); production without SMTP logs
that a mail could not be sent, never its content.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import aiosmtplib
import structlog

from app.config import Settings

log = structlog.get_logger("parley.email")


async def send_email(ctx: dict[str, Any], *, to: str, subject: str, body: str) -> None:
    settings: Settings = ctx["runtime"].settings
    if not settings.smtp_host:
        if settings.is_production:
            log.warning("mail_not_sent", reason="no SMTP host configured", subject=subject)
        else:
            log.info("mail", to=to, subject=subject, body=body)
        return
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        start_tls=settings.smtp_starttls and not settings.smtp_use_tls,
        use_tls=settings.smtp_use_tls,
        timeout=30,
    )
    log.info("mail_sent", subject=subject)
