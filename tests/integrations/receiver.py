"""An integrator's endpoint on loopback: records every webhook request, accepts each delivery
id once, and can be told to fail."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.server import free_port


@dataclass
class Received:
    delivery_id: str
    event_id: str
    signature: str
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    # Delivery id -> the request accepted for it (the first 2xx answered).
    accepted: dict[str, Received] = field(default_factory=dict)
    duplicates: int = 0
    fail_next: int = 0  # answer this many requests with 500
    down: bool = False  # answer every request with 500
    status_when_failing: int = 500
    delay: float = 0.0  # seconds before answering
    failed: int = 0  # requests answered with a failure

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        received = Received(
            delivery_id=request.headers.get("x-parley-delivery", ""),
            event_id=request.headers.get("x-parley-event", ""),
            signature=request.headers.get("x-parley-signature", ""),
            body=body,
            at=time.time(),
        )
        self.requests.append(received)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            self.failed += 1
            return Response("receiver is failing", status_code=self.status_when_failing)
        if received.delivery_id in self.accepted:
            self.duplicates += 1
        else:
            self.accepted[received.delivery_id] = received
        return Response("ok")

    def in_order(self) -> list[Received]:
        return sorted(self.accepted.values(), key=lambda r: int(r.event_id.removeprefix("evt_")))


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the receiver stopped during start-up")
        await asyncio.sleep(0.01)
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
