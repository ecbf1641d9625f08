"""Mail to users, queued as a job (``app.workers.email`` sends it).

Mail bodies carry single-use links (confirmation, reset, invitation), so the job receives the
body encrypted with the settings key: the job's arguments sit in Redis and appear in SAQ's own
log lines.
"""

from __future__ import annotations

from saq.queue.redis import RedisQueue

from app.accounts.jobs import SEND_EMAIL
from app.platform.config import Settings
from app.platform.pubsub import Broker
from app.platform.runtime import Runtime
from app.platform.security import encrypt_secret


def seal_body(settings: Settings, body: str) -> str:
    """The body as the job's argument: encrypted, so links never sit in Redis or SAQ's log."""
    return encrypt_secret(settings, body)


async def queue_mail(runtime: Runtime, *, to: str, subject: str, body: str) -> None:
    await runtime.queues.enqueue(
        SEND_EMAIL, to=to, subject=subject, sealed_body=seal_body(runtime.settings, body)
    )


async def queue_mail_from(
    settings: Settings, broker: Broker, *, to: str, subject: str, body: str
) -> None:
    """:func:`queue_mail` where a reaction has the settings and the broker, not a runtime."""
    await RedisQueue(broker.redis, name=SEND_EMAIL.queue).enqueue(
        SEND_EMAIL.name, to=to, subject=subject, sealed_body=seal_body(settings, body)
    )
