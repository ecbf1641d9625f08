"""Runs the generated Python client against a Parley server, by hash (trusted documents):
sign up, a connected SANDBOX device, a customer writes, the inbox page, a reply, and the
reply's statuses on messageEvents. Prints one JSON line of what it saw.

    python example.py http://127.0.0.1:8000/graphql ../typescript/src/gql/persisted-documents.json
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import datetime
from pathlib import Path

from parley_client.input_types import (
    RegisterInput,
    SendMessageInput,
    SimulateInboundMessageInput,
)
from parley_client.message_events import MessageEventsMessageEvents
from trusted import TrustedClient


async def main(url: str, manifest: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    anonymous = TrustedClient(url=url, manifest=manifest)
    registered = (
        await anonymous.register(
            RegisterInput(
                email=f"py-{suffix}@example.com",
                password="correct horse battery staple",
                name="Python example",
                organization_name=f"Example {suffix}",
            )
        )
    ).register
    await anonymous.http_client.aclose()
    if registered.access_token is None:
        raise SystemExit(f"register: {registered.user_errors}")
    authorization = f"Bearer {registered.access_token}"
    client = TrustedClient(
        url=url,
        manifest=manifest,
        headers={"authorization": authorization},
        ws_url=url.replace("http", "ws", 1),
        ws_connection_init_payload={"authorization": authorization},
    )
    async with client:
        created = (await client.create_sandbox_device("Sandbox", "+16505551234")).create_device
        assert created.device is not None, created.user_errors
        device = created.device
        created_at: datetime = device.created_at  # DateTime: a datetime
        connected = (await client.connect_device(device.id)).connect_device

        events: list[MessageEventsMessageEvents] = []
        first_event = asyncio.Event()

        async def listen() -> None:
            async for result in client.message_events(device_id=device.id):
                events.append(result.message_events)
                first_event.set()
                message = result.message_events.message
                if message.direction == "OUTBOUND" and message.status == "READ":
                    return

        listening = asyncio.create_task(listen())
        # The first event proves the subscription is live: the customer writes until it comes.
        for attempt in range(20):
            inbound = (
                await client.simulate_inbound_message(
                    SimulateInboundMessageInput(
                        device_id=device.id, from_="+14155552671", text=f"Hello {attempt}"
                    )
                )
            ).simulate_inbound_message.message
            assert inbound is not None
            try:
                await asyncio.wait_for(first_event.wait(), 0.5)
                break
            except TimeoutError:
                if listening.done():
                    listening.result()
        else:
            raise SystemExit("no messageEvents within 10 s")

        page = (await client.inbox_page(first=10)).conversations
        conversation = page.edges[0].node
        last_at: datetime | None = conversation.last_message_at

        sent = (
            await client.send_message(
                SendMessageInput(
                    conversation_id=inbound.conversation.id, text="Hi, how can we help?"
                )
            )
        ).send_message
        assert sent.message is not None, sent.user_errors
        await asyncio.wait_for(listening, 15)

    print(
        json.dumps(
            {
                "device": {
                    "id": device.id,
                    "status": connected.device.status.value if connected.device else None,
                    "createdAt": created_at.isoformat(),
                },
                "inbox": {
                    "conversations": len(page.edges),
                    "contact": conversation.contact.phone_number,
                    "attributes": conversation.contact.attributes,
                    "lastMessageAt": last_at.isoformat() if last_at else None,
                },
                "reply": {"id": sent.message.id, "status": sent.message.status.value},
                "events": [
                    f"{e.kind.value} {e.message.direction.value} {e.message.status.value}"
                    for e in events
                ],
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
