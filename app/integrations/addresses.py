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

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from app.platform.config import Settings

MAX_URL_CHARACTERS = 2000  # the column's length


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
        if not _is_public(str(info[4][0])):
            raise UrlRefused(f"The host {host} resolves to a private or local address.")


def _is_public(host: str) -> bool:
    address = ipaddress.ip_address(host.split("%")[0])
    return address.is_global and not address.is_multicast


class GuardedResolver(AbstractResolver):
    """The resolver deliveries connect through: the addresses a connection is made to are
    the ones checked, so a name that resolves inside between the check before an attempt and
    its connection (DNS rebinding) is refused too."""

    def __init__(self) -> None:
        self._resolver = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        if any(not _is_public(result["host"]) for result in found):
            raise OSError(f"{host} resolves to a private or local address")
        return found

    async def close(self) -> None:
        await self._resolver.close()
