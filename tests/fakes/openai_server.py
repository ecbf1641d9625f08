"""A fake OpenAI-compatible chat completions server: real HTTP on loopback, scripted per test.

    async with FakeOpenAI() as llm:
        llm.script(tool_call("business_hours", {}), text("We open at 9."))
        ...  # point the client at llm.base_url (ends with /v1)
        assert llm.requests[0]["tools"][0]["function"]["name"] == "business_hours"

Each request takes the next scripted reply; with none left it answers 500 so a test that
calls the model more often than it planned fails loudly. Requests are validated as the real
API would (model, roles, tool schemas, tool_call_id answering an earlier assistant tool call)
and answered 400 with OpenAI's error shape when they are not. ``stream: true`` is answered with
server-sent events, a usage chunk when ``stream_options.include_usage`` asks for it, and
``data: [DONE]``. Like the Graph API fake, it knows nothing of app code.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.graph_api import LoopbackServer

_ROLES = {"system", "developer", "user", "assistant", "tool"}
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class Reply:
    """One scripted answer: text, tool calls, or an HTTP error; optionally after a delay."""

    content: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0


def text(content: str, *, delay: float = 0.0) -> Reply:
    return Reply(content=content, delay=delay)


def tool_call(name: str, arguments: dict[str, Any] | None = None, *, delay: float = 0.0) -> Reply:
    return Reply(tool_calls=[(name, arguments or {})], delay=delay)


def error(status: int = 500) -> Reply:
    return Reply(status=status)


def hang(seconds: float) -> Reply:
    """An answer slower than any sensible client timeout."""
    return Reply(content="(too late)", delay=seconds)


def _invalid(message: str, param: str | None = None) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": None,
            }
        },
        status_code=400,
    )


def _validate(body: Any) -> JSONResponse | None:
    if not isinstance(body, dict):
        return _invalid("The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        return _invalid("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _invalid("'messages' must be a non-empty array.", "messages")
    pending: set[str] = set()
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            return _invalid(f"Invalid value for 'role' at messages[{index}].", "messages")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                return _invalid(
                    f"Invalid parameter: messages with role 'tool' must be a response to a "
                    f"preceeding message with 'tool_calls' (messages[{index}]).",
                    f"messages.[{index}].tool_call_id",
                )
            pending.discard(call_id)
            continue
        if pending:
            return _invalid(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'. Missing: {sorted(pending)}",
                f"messages.[{index}].role",
            )
        if role == "assistant" and message.get("tool_calls"):
            for call in message["tool_calls"]:
                if call.get("type") != "function" or not call.get("id"):
                    return _invalid("Invalid tool call.", f"messages.[{index}].tool_calls")
                try:
                    json.loads(call["function"]["arguments"])
                except (KeyError, TypeError, ValueError):
                    return _invalid("Tool call arguments must be JSON.", "messages")
                pending.add(call["id"])
        elif message.get("content") is None and role != "assistant":
            return _invalid(f"messages[{index}].content is required.", "messages")
    if pending:
        return _invalid(f"Tool calls without a response: {sorted(pending)}", "messages")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or not tools:
            return _invalid("'tools' must be a non-empty array when given.", "tools")
        for index, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if tool.get("type") != "function" or not isinstance(function, dict):
                return _invalid(f"tools[{index}] must be a function.", f"tools[{index}]")
            if not _TOOL_NAME.match(str(function.get("name", ""))):
                return _invalid(f"Invalid 'tools[{index}].function.name'.", f"tools[{index}]")
            parameters = function.get("parameters")
            if parameters is not None and parameters.get("type") != "object":
                return _invalid(
                    f"Invalid schema for function '{function['name']}': type must be 'object'.",
                    f"tools[{index}].function.parameters",
                )
    return None


def _unauthorized() -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        },
        status_code=401,
    )


class FakeOpenAI:
    def __init__(self, api_key: str = "sk-test-key") -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models),
            ]
        )
        self._server = LoopbackServer(app)

    @property
    def base_url(self) -> str:
        return f"{self._server.base_url}/v1"

    def script(self, *replies: Reply) -> None:
        """Replace what the next requests are answered with."""
        with self._lock:
            self._replies = deque(replies)
            self.requests.clear()

    @property
    def unused(self) -> int:
        with self._lock:
            return len(self._replies)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    async def __aenter__(self) -> FakeOpenAI:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.to_thread(self.stop)

    async def _models(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _unauthorized()
        return JSONResponse({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})

    async def _chat(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _unauthorized()
        try:
            body = await request.json()
        except ValueError:
            return _invalid("We could not parse the JSON body of your request.")
        with self._lock:
            self.requests.append(body)
            reply = self._replies.popleft() if self._replies else None
        invalid = _validate(body)
        if invalid is not None:
            return invalid
        if reply is None:
            return JSONResponse(
                {
                    "error": {
                        "message": "fake: no scripted reply left",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                },
                status_code=500,
            )
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            return JSONResponse(
                {
                    "error": {
                        "message": "The server had an error while processing your request.",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                },
                status_code=reply.status,
            )
        offered = {t["function"]["name"] for t in body.get("tools") or []}
        for name, _ in reply.tool_calls:
            if name not in offered:
                return _invalid(f"fake: scripted tool {name!r} was not offered ({sorted(offered)})")
        calls = [
            {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for name, arguments in reply.tool_calls
        ]
        usage = _usage(body, reply)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                _chunks(body["model"], reply, calls, usage if include_usage else None),
                media_type="text/event-stream",
            )
        message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
        if calls:
            message["tool_calls"] = calls
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": "tool_calls" if calls else "stop",
                    }
                ],
                "usage": usage,
            }
        )


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int]:
    prompt = sum(len(str(m.get("content") or "").split()) + 4 for m in body["messages"])
    completion = len((reply.content or "").split()) + 10 * len(reply.tool_calls)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


async def _chunks(
    model: str, reply: Reply, calls: list[dict[str, Any]], usage: dict[str, int] | None
) -> AsyncIterator[bytes]:
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        payload = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(payload)}\n\n".encode()

    def delta(value: dict[str, Any], finish: str | None = None) -> bytes:
        return chunk([{"index": 0, "delta": value, "logprobs": None, "finish_reason": finish}])

    yield delta({"role": "assistant", "content": "" if not calls else None})
    if reply.content:
        for word in re.findall(r"\S+\s*", reply.content):
            yield delta({"content": word})
            await asyncio.sleep(0)
    for index, call in enumerate(calls):
        yield delta(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""},
                    }
                ]
            }
        )
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), 8):
            yield delta(
                {
                    "tool_calls": [
                        {"index": index, "function": {"arguments": arguments[start : start + 8]}}
                    ]
                }
            )
    yield delta({}, "tool_calls" if calls else "stop")
    if usage is not None:
        yield chunk([], usage=usage)
    yield b"data: [DONE]\n\n"
