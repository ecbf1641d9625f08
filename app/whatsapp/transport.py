"""An httpx transport for the Graph API: HTTP/1.1 keep-alive connections on asyncio protocols.

A campaign at 1,000 messages a second is a thousand small requests a second to one host, with a
few hundred in flight while Meta answers. httpx's default transport (httpcore) spends most of a
worker's CPU on that: every request walks the pool's connections, checks each idle socket for
readability, and runs through anyio streams and h11's pure-Python parser. Here a connection is an
``asyncio.Protocol`` whose bytes go straight to httptools (llhttp, in C), and the pool is a stack
of idle connections per origin: taking one and giving it back cost the same with 1 or 300 open.

It does what the Graph API needs of HTTP/1.1 and no more: keep-alive, ``Content-Length`` and
chunked bodies, TLS, httpx's connect/read/write/pool timeouts mapped to httpx's exceptions, and
``keepalive_expiry``. Responses are read whole (Graph API answers are small JSON documents).
Proxies stay httpx's business: a client built with this transport still mounts httpx's own proxy
transport for any proxy the environment names.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from typing import Any

import httptools
import httpx

Origin = tuple[bytes, bytes, int]


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; one request at a time."""

    def __init__(self, lost: Any) -> None:
        self._lost = lost  # called once, when the connection is gone
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._answer: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self.closed = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.keep_alive = True

    async def exchange(
        self, request: bytes, *, read_timeout: float | None, write_timeout: float | None
    ) -> None:
        """Send ``request`` and wait until its whole response is parsed."""
        assert self._transport is not None
        loop = asyncio.get_running_loop()
        self._reset()
        self._answer = loop.create_future()
        self._transport.write(request)
        if self._drained is not None:  # the kernel's buffer is full: wait for it to empty
            await self._wait(self._drained, write_timeout, httpx.WriteTimeout)
        await self._wait(self._answer, read_timeout, httpx.ReadTimeout)
        self._answer = None

    async def _wait(
        self, future: asyncio.Future[None], seconds: float | None, error: type[Exception]
    ) -> None:
        # A timer handle rather than asyncio.timeout(): cheaper, and no task cancellation to undo.
        if seconds is None:
            await future
            return
        timer = asyncio.get_running_loop().call_later(seconds, self._time_out, future, error)
        try:
            await future
        finally:
            timer.cancel()

    def _time_out(self, future: asyncio.Future[None], error: type[Exception]) -> None:
        if not future.done():
            future.set_exception(error("timed out"))

    @property
    def status(self) -> int:
        return int(self._parser.get_status_code())

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._gone()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: the connection's state is unknown
            return
        try:
            self._parser.feed_data(data)
        except Exception as exc:  # httptools' parser errors, and an upgrade we never asked for
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP response: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.headers_done and not self._framed():
            self.on_message_complete()  # a body that runs until the connection closes
        else:
            self._fail(
                httpx.ReadError(str(exc))
                if exc is not None
                else httpx.RemoteProtocolError("Server disconnected without sending a response.")
            )
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._gone()

    def pause_writing(self) -> None:
        self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    # httptools callbacks

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self.keep_alive = self._parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(None)

    def _framed(self) -> bool:
        """Whether the response says where its body ends (else it ends with the connection)."""
        names = {name.lower() for name, _ in self.headers}
        return b"content-length" in names or b"transfer-encoding" in names

    def _fail(self, error: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)

    def _gone(self) -> None:
        if not self.closed:
            self.closed = True
            self._lost(self)


class GraphTransport(httpx.AsyncBaseTransport):
    """Pooled HTTP/1.1 connections, at most ``max_connections`` open across origins."""

    def __init__(
        self,
        *,
        max_connections: int = 256,
        keepalive_expiry: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max = max_connections
        self._expiry = keepalive_expiry
        self._ssl = ssl_context
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._open = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":  # the parser would wait for the body the headers announce
            raise httpx.UnsupportedProtocol("GraphTransport does not send HEAD requests")
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port or (443 if url.scheme == "https" else 80))
        connection = self._idle_connection(origin)
        if connection is None:
            connection = await self._connect(origin, timeouts)
        try:
            await connection.exchange(
                await _serialize(request),
                read_timeout=timeouts.get("read"),
                write_timeout=timeouts.get("write"),
            )
        except BaseException:
            connection.close()  # whatever it was in the middle of, it cannot be reused
            raise
        response = httpx.Response(
            connection.status,
            headers=connection.headers,
            content=b"".join(connection.body),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": connection.reason},
        )
        if connection.keep_alive and not connection.closed and not self._closed:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(origin, deque()).append(connection)
            self._wake_a_waiter()
        else:
            connection.close()
        return response

    async def aclose(self) -> None:
        self._closed = True
        for idle in list(self._idle.values()):
            while idle:
                idle.pop().close()

    def _idle_connection(self, origin: Origin) -> _Connection | None:
        """The most recently used idle connection (others expire first), dropping dead ones."""
        idle = self._idle.get(origin)
        if not idle:
            return None
        expired = time.monotonic() - self._expiry
        while idle and (idle[0].closed or idle[0].idle_since < expired):
            idle.popleft().close()
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    async def _connect(self, origin: Origin, timeouts: dict[str, float | None]) -> _Connection:
        if self._closed:
            raise RuntimeError("the transport has been closed")
        while self._open >= self._max:
            if not self._free_an_idle_connection():
                waiter = asyncio.get_running_loop().create_future()
                self._waiting.append(waiter)
                try:
                    async with asyncio.timeout(timeouts.get("pool")):
                        await waiter
                except TimeoutError:
                    raise httpx.PoolTimeout("no connection came free in time") from None
                finally:
                    if waiter in self._waiting:
                        self._waiting.remove(waiter)
                # A connection came back: it may be idle on this origin now.
                if (connection := self._idle_connection(origin)) is not None:
                    return connection
        self._open += 1
        scheme, host, port = origin
        https = scheme == b"https"
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self._forget),
                    host.decode("ascii"),
                    port,
                    ssl=(self._ssl or _default_ssl()) if https else None,
                    server_hostname=host.decode("ascii") if https else None,
                )
        except TimeoutError:
            self._forget(None)
            raise httpx.ConnectTimeout("timed out connecting to the Graph API") from None
        except OSError as exc:
            self._forget(None)
            raise httpx.ConnectError(str(exc)) from exc
        except BaseException:
            self._forget(None)
            raise
        return connection

    def _free_an_idle_connection(self) -> bool:
        """Close an idle connection of any origin to make room; whether there was one."""
        for idle in self._idle.values():
            if idle:
                idle.popleft().close()
                return True
        return False

    def _forget(self, _connection: _Connection | None) -> None:
        self._open -= 1
        self._wake_a_waiter()

    def _wake_a_waiter(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


async def _serialize(request: httpx.Request) -> bytes:
    try:
        body = request.content
    except httpx.RequestNotRead:
        body = await request.aread()
    head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
    chunked = False
    for name, value in request.headers.raw:
        head.append(b"%s: %s\r\n" % (name, value))
        chunked = chunked or (name.lower() == b"transfer-encoding" and b"chunked" in value.lower())
    if chunked:  # a stream of unknown length, read whole above: one chunk and the last one
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    head.append(b"\r\n")
    return b"".join(head) + body


_ssl_context: ssl.SSLContext | None = None


def _default_ssl() -> ssl.SSLContext:
    """httpx's default verification (certifi's roots), made once."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    return _ssl_context
