// Runs the generated operations against a Parley server, by hash (trusted documents):
// sign up, a connected SANDBOX device, a customer writes, the inbox page, a reply, and the
// reply's statuses on messageEvents. Prints one JSON line of what it saw.
//   PARLEY_URL=http://127.0.0.1:8000/graphql node dist/main.js
import { Parley } from "./client.js";
import {
  ConnectDeviceDocument as ConnectDevice,
  CreateSandboxDeviceDocument as CreateSandboxDevice,
  InboxPageDocument as InboxPage,
  MessageEventsDocument as MessageEvents,
  RegisterDocument as Register,
  SendMessageDocument as SendMessage,
  SimulateInboundMessageDocument as SimulateInboundMessage,
  type MessageEventsSubscription,
} from "./gql/graphql.js";

const parley = new Parley(process.env.PARLEY_URL ?? "http://127.0.0.1:8000/graphql");
const suffix = Math.random().toString(36).slice(2, 10);

const { register } = await parley.request(Register, {
  input: {
    email: `ts-${suffix}@example.com`,
    password: "correct horse battery staple",
    name: "TypeScript example",
    organizationName: `Example ${suffix}`,
  },
});
if (!register.accessToken) throw new Error(JSON.stringify(register.userErrors));
parley.token = register.accessToken;

const { createDevice } = await parley.request(CreateSandboxDevice, {
  name: "Sandbox",
  phoneNumber: "+16505551234",
});
const device = createDevice.device;
if (!device) throw new Error(JSON.stringify(createDevice.userErrors));
const createdAt: Date = new Date(device.createdAt); // DateTime: an ISO 8601 string
const { connectDevice } = await parley.request(ConnectDevice, { deviceId: device.id });

// Subscribe first, then make things happen; stop once the reply is READ.
const events: MessageEventsSubscription["messageEvents"][] = [];
let subscribed!: () => void;
const listening = (async () => {
  for await (const { messageEvents } of parley.subscribe(MessageEvents, { deviceId: device.id })) {
    events.push(messageEvents);
    subscribed?.();
    const { message } = messageEvents;
    if (message.direction === "OUTBOUND" && message.status === "READ") break;
  }
})();

// The first event proves the subscription is live: keep the customer writing until it comes.
const firstEvent = new Promise<void>((resolve) => (subscribed = resolve));
let inbound;
for (let attempt = 0; ; attempt++) {
  const { simulateInboundMessage } = await parley.request(SimulateInboundMessage, {
    input: { deviceId: device.id, from: "+14155552671", text: `Hello ${attempt}`, name: "Ada" },
  });
  inbound = simulateInboundMessage.message;
  if (!inbound) throw new Error(JSON.stringify(simulateInboundMessage.userErrors));
  const arrived = await Promise.race([firstEvent.then(() => true), sleep(500).then(() => false)]);
  if (arrived) break;
  if (attempt === 20) throw new Error("no messageEvents within 10 s");
}

const { conversations } = await parley.request(InboxPage, { first: 10 });
const conversation = conversations.edges[0]?.node;
if (!conversation) throw new Error("an empty inbox");
const attributes = conversation.contact.attributes; // JSON: a JSONValue, not `unknown`

const { sendMessage } = await parley.request(SendMessage, {
  input: { conversationId: inbound.conversation.id, text: "Hi Ada, how can we help?" },
});
if (!sendMessage.message) throw new Error(JSON.stringify(sendMessage.userErrors));

await Promise.race([
  listening,
  sleep(15_000).then(() => {
    throw new Error(`the reply was not READ within 15 s: ${JSON.stringify(events)}`);
  }),
]);
await parley.close();

console.log(
  JSON.stringify({
    device: { id: device.id, status: connectDevice.device?.status, createdAt: createdAt.toISOString() },
    inbox: { conversations: conversations.edges.length, contact: conversation.contact.phoneNumber, attributes },
    reply: { id: sendMessage.message.id, status: sendMessage.message.status },
    events: events.map((e) => `${e.kind} ${e.message.direction} ${e.message.status}`),
  }),
);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
