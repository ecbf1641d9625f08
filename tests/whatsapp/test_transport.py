"""GraphTransport against real sockets: a scripted HTTP/1.1 server decides each answer."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.whatsapp.transport import GraphTransport
from tests.support.messaging import eventually

TIMEOUT = httpx.Timeout(connect=2.0, read=2.0, write=2.0, pool=2.0)


@dataclass
class Request:
    head: bytes
    body: bytes
    connection: int  # which connection it came on, counting from 1


# Given the request, the bytes to answer (None: never answer); closes the connection after
# answering when the second value is True.
Script = Callable[[Request], Awaitable[tuple[bytes | None, bool]]]


@dataclass
class ScriptedServer:
    script: Script
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    closed_by_client: int = 0
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    self.closed_by_client += 1
                    return
                length = _content_length(head)
                request = Request(head, await reader.readexactly(length), number)
                self.requests.append(request)
                answer, close = await self.script(request)
                if answer is None:
                    await reader.read()  # until the client gives up and closes
                    self.closed_by_client += 1
                    return
                writer.write(answer)
                await writer.drain()
                if close:
                    return
        finally:
            self.open_now -= 1
            writer.close()


async def _received(server: ScriptedServer, count: int) -> bool:
    return len(server.requests) >= count


async def _closed_by_client(server: ScriptedServer, count: int) -> bool:
    return server.closed_by_client >= count


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def ok(body: bytes = b'{"ok":true}', *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers).encode()
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
        % (len(body), extra, body)
    )


async def answer_ok(_: Request) -> tuple[bytes | None, bool]:
    return ok(), False


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[ScriptedServer]]]:
    servers: list[asyncio.Server] = []

    async def start(
        script: Script = answer_ok, ssl_context: ssl.SSLContext | None = None
    ) -> ScriptedServer:
        scripted = ScriptedServer(script)
        server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0, ssl=ssl_context)
        scripted.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return scripted

    yield start
    for server in servers:
        server.close()


def client(
    server: ScriptedServer, transport: GraphTransport, scheme: str = "http"
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{scheme}://127.0.0.1:{server.port}", transport=transport, timeout=TIMEOUT
    )


async def test_requests_in_turn_share_one_connection_and_arrive_as_sent(serve) -> None:
    server = await serve()
    async with client(server, GraphTransport()) as http:
        answers = [
            await http.post(
                "/v21.0/1/messages?x=1", json={"to": "1555"}, headers={"Authorization": "Bearer t"}
            )
            for _ in range(3)
        ]

    assert [a.json() for a in answers] == [{"ok": True}] * 3
    assert server.connections == 1
    head, body = server.requests[0].head, server.requests[0].body
    assert head.startswith(b"POST /v21.0/1/messages?x=1 HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{server.port}".encode() in head.lower()
    assert b"authorization: bearer t" in head.lower()
    assert body == b'{"to":"1555"}'
    assert answers[0].http_version == "HTTP/1.1" and answers[0].reason_phrase == "OK"


async def test_concurrent_requests_open_connections_up_to_the_limit_and_then_wait(serve) -> None:
    async def slow(_: Request) -> tuple[bytes | None, bool]:
        await asyncio.sleep(0.05)
        return ok(), False

    server = await serve(slow)
    async with client(server, GraphTransport(max_connections=3)) as http:
        answers = await asyncio.gather(*(http.get("/") for _ in range(12)))

    assert all(a.status_code == 200 for a in answers)
    assert server.most_open == 3 and server.connections == 3


async def test_no_free_connection_within_the_pool_timeout_is_a_pool_timeout(serve) -> None:
    release = asyncio.Event()

    async def held(_: Request) -> tuple[bytes | None, bool]:
        await release.wait()
        return ok(), False

    server = await serve(held)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}",
        transport=GraphTransport(max_connections=1),
        timeout=httpx.Timeout(2.0, pool=0.1),
    ) as http:
        first = asyncio.create_task(http.get("/"))
        await eventually(lambda: _received(server, 1))  # the first holds the only connection
        with pytest.raises(httpx.PoolTimeout):
            await http.get("/")
        release.set()
        assert (await first).status_code == 200
        assert (await http.get("/")).status_code == 200  # the slot came back

    assert server.connections == 1


async def test_an_unanswered_request_times_out_and_its_connection_is_not_reused(serve) -> None:
    async def silent_once(request: Request) -> tuple[bytes | None, bool]:
        return (None, False) if request.connection == 1 else (ok(), False)

    server = await serve(silent_once)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}",
        transport=GraphTransport(),
        timeout=httpx.Timeout(2.0, read=0.1),
    ) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get("/")
        assert (await http.get("/")).status_code == 200

    assert server.connections == 2
    # The timed-out connection was closed, not pooled (the server sees its end).
    await eventually(lambda: _closed_by_client(server, 1))


async def test_chunked_gzip_and_until_close_bodies_are_read_whole(serve) -> None:
    bodies = iter(
        [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n',
            ok(gzip.compress(b'{"b":2}'), "Content-Encoding: gzip"),
            b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"c":3}',
        ]
    )

    async def script(_: Request) -> tuple[bytes | None, bool]:
        answer = next(bodies)
        return answer, b"Connection: close" in answer

    server = await serve(script)
    async with client(server, GraphTransport()) as http:
        answers = [(await http.get("/")).json() for _ in range(3)]

    assert answers == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert server.connections == 1


async def test_a_connection_the_server_closed_is_replaced_not_reused(serve) -> None:
    async def close_after(_: Request) -> tuple[bytes | None, bool]:
        return ok(), True  # keep-alive announced, then closed anyway (an idle timeout)

    server = await serve(close_after)
    async with client(server, GraphTransport()) as http:
        for _ in range(3):
            assert (await http.get("/")).status_code == 200
            await asyncio.sleep(0.02)  # the close reaches the client while it is idle

    assert server.connections == 3


async def test_a_connection_idle_past_keepalive_expiry_is_closed_not_reused(serve) -> None:
    server = await serve()
    async with client(server, GraphTransport(keepalive_expiry=0.05)) as http:
        await http.get("/")
        await asyncio.sleep(0.1)  # the point: time passes beyond the expiry
        await http.get("/")

    assert server.connections == 2


async def test_connection_close_from_the_server_opens_a_new_connection_next_time(serve) -> None:
    async def closing(_: Request) -> tuple[bytes | None, bool]:
        return ok(b"{}", "Connection: close"), True

    server = await serve(closing)
    async with client(server, GraphTransport()) as http:
        await http.get("/")
        await http.get("/")

    assert server.connections == 2


async def test_broken_answers_are_httpx_errors(serve) -> None:
    answers = iter(
        [
            (b"NOT HTTP AT ALL\r\n\r\n", True),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{", True),
        ]
    )

    async def script(_: Request) -> tuple[bytes | None, bool]:
        return next(answers)

    server = await serve(script)
    async with client(server, GraphTransport()) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("/")
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await http.get("/")  # the connection closed half way through the body


async def test_a_refused_connection_is_a_connect_error() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()

    async with httpx.AsyncClient(
        transport=GraphTransport(max_connections=1), timeout=TIMEOUT
    ) as http:
        for _ in range(2):  # the failed attempt gave its slot back
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://127.0.0.1:{port}/")


async def test_a_cancelled_request_closes_its_connection_and_frees_its_slot(serve) -> None:
    async def silent_once(request: Request) -> tuple[bytes | None, bool]:
        return (None, False) if request.connection == 1 else (ok(), False)

    server = await serve(silent_once)
    async with client(server, GraphTransport(max_connections=1)) as http:
        pending = asyncio.create_task(http.get("/"))
        await eventually(lambda: _received(server, 1))  # cancelled while awaiting the answer
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        assert (await http.get("/")).status_code == 200

    assert server.connections == 2


async def test_https_verifies_the_server_certificate(serve, tmp_path: Path) -> None:
    authority, server_context = _certificates(tmp_path)
    server = await serve(ssl_context=server_context)
    trusting = ssl.create_default_context(cafile=str(authority))

    async with client(server, GraphTransport(ssl_context=trusting), scheme="https") as http:
        assert (await http.get("/")).json() == {"ok": True}
        assert (await http.get("/")).status_code == 200
    async with client(server, GraphTransport(), scheme="https") as http:
        with pytest.raises(httpx.ConnectError):  # not signed by a public authority
            await http.get("/")

    assert len(server.requests) == 2  # the refused handshake sent nothing


def _certificates(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A throwaway authority and a certificate it signed for 127.0.0.1."""
    now = datetime.datetime.now(datetime.UTC)

    def issue(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name,
        signer: ec.EllipticCurvePrivateKey,
        *,
        ca: bool,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Parley test CA")])
    ca_cert = issue("Parley test CA", ca_key, ca_name, ca_key, ca=True)
    cert = issue("127.0.0.1", key, ca_name, ca_key, ca=False)
    authority, chain, private = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    authority.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain, private)
    return authority, context
