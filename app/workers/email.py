"""Sending email: a SAQ job over SMTP (aiosmtplib).

Mail bodies carry single-use links (confirmation, reset, invitation), so the job receives the
body encrypted with the settings key: the job's arguments sit in Redis and appear in SAQ's own
log lines (its debug lines and its "Error processing job" traceback print them in full).

Without an SMTP host, development and test write the mail, link included, to the dedicated
``parley.devmail`` logger, the one place a link token is ever logged. Production without an
SMTP host refuses: the job fails with :class:`MailNotConfigured` and nothing of the mail is
logged.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import structlog

from app.platform.config import Settings
from app.platform.runtime import JobContext
from app.platform.security import decrypt_secret

log = structlog.get_logger("parley.email")
devmail = structlog.get_logger("parley.devmail")


class MailNotConfigured(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "PARLEY_SMTP_HOST is not set: production sends mail over SMTP and never logs it"
        )


async def send_email(ctx: JobContext, *, to: str, subject: str, sealed_body: str) -> None:
    settings: Settings = ctx["runtime"].settings
    if not settings.smtp_host:
        if settings.is_production:
            raise MailNotConfigured()
        devmail.info("mail", to=to, subject=subject, body=decrypt_secret(settings, sealed_body))
        return
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(decrypt_secret(settings, sealed_body))
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
