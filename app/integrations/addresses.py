"""Where a webhook may be sent: https in production, and never to this network's insides.

A URL's host is resolved and every address it resolves to is checked (loopback, private,
link-local, multicast, reserved and unspecified addresses are refused) when the webhook is
saved and again before every attempt and every redirect, so a name that later points inside
is refused too. ``PARLEY_WEBHOOKS_ALLOW_PRIVATE_URLS`` (on outside production by default)
allows them for local development and tests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from app.platform.config import Settings

MAX_URL_CHARACTERS = 2000


class UrlRefused(Exception):
    pass


def check_url_shape(settings: Settings, url: str) -> str:
    """The URL if its shape is acceptable (scheme, host, no credentials), else UrlRefused."""
    if len(url) > MAX_URL_CHARACTERS:
        raise UrlRefused(f"The URL is longer than {MAX_URL_CHARACTERS} characters.")
    parts = urlsplit(url)
    allowed = ("https", "http") if settings.webhook_private_urls_allowed else ("https",)
    if parts.scheme not in allowed:
        raise UrlRefused("The URL must use https.")
    if not parts.hostname:
        raise UrlRefused("The URL needs a host.")
    if parts.username or parts.password:
        raise UrlRefused("The URL must not carry credentials.")
    return url


async def check_destination(settings: Settings, url: str) -> None:
    """Refuses a URL whose host resolves to an address inside (after DNS resolution)."""
    check_url_shape(settings, url)
    if settings.webhook_private_urls_allowed:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise UrlRefused(f"The host {host} does not resolve.") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            raise UrlRefused(f"The host {host} resolves to a private or local address.")
