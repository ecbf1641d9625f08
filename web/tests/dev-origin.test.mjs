// The SPA in development: Vite's dev server on an origin of its own, the API on another, so CORS
// and the WebSocket's Origin check are real. The API names the Vite origin in PARLEY_CORS_ORIGINS
// (which replaces the development default of any localhost port); the same app reached through
// another origin is refused. Its access tokens live 40 s here, so the test also sees the socket
// closed on expiry (4401) and the app reconnect with a fresh token, resuming from its cursor; and
// its users' request limit is small, so the test spends it and watches the app wait out the 429.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { call, freePort, manifest, startParley, startProxy, startVite, WEB } from "./harness.mjs";

const ARTIFACTS = path.join(WEB, "test-artifacts");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const USER = { email: "dev@example.com", password: "correct horse battery staple" };
const TOKEN_TTL_SECONDS = 40;

let parley, vite, elsewhere, browser, ops, token, deviceId, page;
const sockets = []; // the app's GraphQL sockets: {url, token, subscribedAfter, lastCursorSeen, closed}
let lastCursor = null; // of the last inbox event any socket received

const customer = (text) => call(parley.url, token, ops.SimulateInbound, { input: { deviceId, from: "+14155550177", text, name: "Alan" } });

async function sessionToken() {
  return page.evaluate(() => JSON.parse(localStorage.getItem("parley.session")).accessToken);
}

async function signIn(page, url) {
  await page.goto(url);
  await page.fill("input[name=email]", USER.email);
  await page.fill("input[name=password]", USER.password);
  await page.locator("form button[type=submit]").click();
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const [apiPort, vitePort, otherPort] = [await freePort(), await freePort(), await freePort()];
  const viteOrigin = `http://127.0.0.1:${vitePort}`;
  parley = await startParley({
    port: apiPort,
    publicUrl: `${viteOrigin}/app`,
    env: {
      PARLEY_WEB_DIST: null, // the API alone: the app comes from Vite
      PARLEY_CORS_ORIGINS: viteOrigin,
      PARLEY_ACCESS_TOKEN_TTL_SECONDS: String(TOKEN_TTL_SECONDS),
      // Small enough for the test to spend (RATE_LIMITED), large enough for the app's own use.
      PARLEY_REQUEST_LIMIT_USER: "60/10 seconds",
    },
  });
  vite = await startVite({ port: vitePort, apiUrl: `${parley.url}/graphql` });
  // The same dev server through another origin, which the API does not name.
  elsewhere = await startProxy(otherPort, vitePort);
  elsewhere.url = `http://127.0.0.1:${otherPort}/app/`;
  ops = manifest();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  await elsewhere?.close();
  await vite?.stop();
  await parley?.stop();
});

test("preflights: the Vite origin is allowed, another origin is not", async () => {
  const preflight = (origin) =>
    fetch(`${parley.url}/graphql`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type,x-organization-id" },
    });
  const allowed = await preflight(new URL(vite.url).origin);
  const refused = await preflight(new URL(elsewhere.url).origin);
  assert.equal(allowed.status, 200);
  assert.equal(allowed.headers.get("access-control-allow-origin"), new URL(vite.url).origin);
  assert.equal(refused.status, 400);
  assert.equal(refused.headers.get("access-control-allow-origin"), null);
});

test("served by Vite on its own origin: sign up, the inbox, a live update over the WebSocket", async () => {
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(30_000);
  page.on("pageerror", (error) => console.log(`page error: ${error.stack}`));
  page.on("websocket", (ws) => {
    if (!ws.url().endsWith("/graphql")) return; // Vite's own (hot reload) socket
    const socket = { url: ws.url(), token: null, subscribedAfter: [], closed: false };
    sockets.push(socket);
    ws.on("framesent", ({ payload }) => {
      const frame = JSON.parse(String(payload));
      if (frame.type === "connection_init") socket.token = frame.payload.authorization;
      if (frame.type === "subscribe" && frame.payload.extensions?.persistedQuery?.sha256Hash === ops.InboxEvents) {
        socket.subscribedAfter.push(frame.payload.variables.after);
        if (!("lastCursorSeen" in socket)) socket.lastCursorSeen = lastCursor;
      }
    });
    ws.on("framereceived", ({ payload }) => {
      const cursor = JSON.parse(String(payload)).payload?.data?.inboxEvents?.cursor;
      if (cursor) lastCursor = cursor;
    });
    ws.on("close", () => (socket.closed = true));
  });

  await page.goto(vite.url);
  await page.getByRole("button", { name: "Create account" }).first().click();
  await page.fill("input[name=email]", USER.email);
  await page.fill("input[name=password]", USER.password);
  await page.fill("input[name=name]", "Dev Agent");
  await page.fill("input[name=organizationName]", "Devco");
  await page.locator("form button[type=submit]").click();
  await page.locator(".topbar").waitFor();
  token = await sessionToken();
  await page.locator("text=No conversations yet.").waitFor();
  assert.equal(new URL(page.url()).origin, new URL(vite.url).origin);
  assert.notEqual(new URL(page.url()).origin, parley.url, "the app and the API are on two origins");

  const { createDevice } = await call(parley.url, token, ops.CreateDevice, {
    // One message a second: the campaign below runs long enough to be paused.
    input: { name: "Dev line", phoneNumber: "+16505550142", provider: "SANDBOX", requiresPairing: false, messagesPerSecond: 1 },
  });
  deviceId = createDevice.device.id;
  await call(parley.url, token, ops.ConnectDevice, { input: { deviceId } });
  await customer("Hello from the dev setup");
  await page.locator("[data-conversation-id]", { hasText: "Hello from the dev setup" }).waitFor();
  assert.ok(sockets.length >= 1 && sockets[0].url.startsWith(parley.url.replace("http", "ws")), JSON.stringify(sockets));
  await page.screenshot({ path: path.join(ARTIFACTS, "dev-1-vite-origin-live.png") });
});

test("a campaign paused while it runs sends nothing more until it is resumed", async () => {
  for (let i = 0; i < 8; i++)
    await call(parley.url, token, ops.SimulateInbound, { input: { deviceId, from: `+1415555021${i}`, text: `Hi #${i}`, name: `Customer ${i}` } });
  await page.getByRole("navigation").getByText("Campaigns", { exact: true }).click();
  await page.getByRole("button", { name: "Add template" }).click();
  await page.locator("select[name=template] option", { hasText: "spring_sale" }).waitFor({ state: "attached" });
  await page.getByRole("button", { name: "Create campaign" }).click();
  const card = page.locator("[data-campaign-id]").first();
  await card.getByRole("button", { name: "Start" }).click();
  await card.getByRole("button", { name: "Pause" }).click(); // shown while RUNNING
  await page.locator("[data-campaign-status=PAUSED]").waitFor();
  const stats = card.locator("[data-testid=campaign-stats]");
  const pending = async () => Number(/(\d+) pending/.exec(await stats.innerText())[1]);
  await page.waitForTimeout(1500); // a send already on its way when the pause came is counted
  const paused = await stats.innerText();
  const pendingWhenPaused = await pending();
  await page.waitForTimeout(3000); // three sends' worth at one a second
  assert.ok(pendingWhenPaused > 0, paused);
  assert.equal(await pending(), pendingWhenPaused, "nothing sent while paused");
  await page.screenshot({ path: path.join(ARTIFACTS, "dev-2-campaign-paused.png") });
  await card.getByRole("button", { name: "Resume" }).click();
  await page.locator("[data-campaign-status=COMPLETED]").waitFor({ timeout: 60_000 });
  await stats.filter({ hasText: "9 recipients" }).waitFor();
  console.log(`campaign paused at "${paused}", resumed, completed: "${await stats.innerText()}"`);
  await page.getByRole("navigation").getByText("Inbox", { exact: true }).click();
  await page.locator("[data-conversation-id]").nth(8).waitFor(); // the list read (9 customers)
});

test("the access token expires on the open socket: a fresh token, the feed resumed after its cursor", async () => {
  // The access token expires on the open socket: the server closes it (4401), the app refreshes
  // the token and subscribes again after the last change it applied, on a socket signed in anew,
  // without reading the list again (the token's refresh keeps the client and the screens).
  const listReads = [];
  const onRequest = (request) => {
    const body = request.postData() ?? "";
    if (body.includes(ops.Conversations) || body.includes(ops.InboxHead)) listReads.push(request.url());
  };
  page.on("request", onRequest);
  const renewal = () => {
    const closed = sockets.findIndex((s) => s.closed && s.subscribedAfter.length);
    const next = closed >= 0 ? sockets.slice(closed + 1).find((s) => s.subscribedAfter.length) : undefined;
    return next && { first: sockets[closed], renewed: next };
  };
  for (let i = 0; i < (TOKEN_TTL_SECONDS + 20) * 4 && !renewal(); i++) await page.waitForTimeout(250);
  const found = renewal();
  assert.ok(found, `no socket after the token expired: ${JSON.stringify(sockets)}`);
  const { first, renewed } = found;
  page.off("request", onRequest);
  assert.notEqual(renewed.token, first.token, "the new socket signs in with a fresh token");
  assert.equal(renewed.subscribedAfter[0], renewed.lastCursorSeen, "resumed after the last change applied");
  assert.ok(typeof renewed.subscribedAfter[0] === "string" && renewed.subscribedAfter[0], JSON.stringify(renewed));
  assert.deepEqual(listReads, [], "the list was not read again");
  token = await sessionToken(); // the first one expired
  await customer("After the token was refreshed");
  await page.locator("[data-conversation-id]", { hasText: "After the token was refreshed" }).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, "dev-3-token-refreshed-on-the-socket.png") });
  console.log(`dev origin ${new URL(vite.url).origin} → API ${parley.url}: signed up, live update, socket renewed after the ${TOKEN_TTL_SECONDS} s token expired (${sockets.length} sockets)`);
});

test("RATE_LIMITED across origins: the app shows it, waits out Retry-After and tries again", async () => {
  token = await sessionToken();
  const statuses = [];
  page.on("response", (response) => {
    if (response.url().endsWith("/graphql") && response.request().method() === "POST") statuses.push(response.status());
  });
  // The user's window of requests, spent by another tab of theirs (the test).
  let refused = null;
  for (let i = 0; i < 200 && !refused; i++) {
    const response = await fetch(`${parley.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ variables: {}, extensions: { persistedQuery: { version: 1, sha256Hash: ops.InboxHead } } }),
    });
    if (response.status === 429) refused = response;
  }
  assert.ok(refused, "the request limit answered 429");
  const body = await refused.json();
  assert.equal(body.errors[0].extensions.code, "RATE_LIMITED");
  const retryAfter = Number(refused.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 10, `Retry-After: ${retryAfter}`);

  await page.getByRole("navigation").getByText("Devices", { exact: true }).click();
  await page.locator("[data-testid=rate-limited-banner]").waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, "dev-4-rate-limited.png") });
  await page.locator(`[data-device-id="${deviceId}"]`).waitFor({ timeout: (retryAfter + 20) * 1000 });
  await page.locator("[data-testid=rate-limited-banner]").waitFor({ state: "detached" });
  // The page may show the retried answer before Playwright reports its response: wait for it.
  const retried = () => statuses.indexOf(429) >= 0 && statuses.slice(statuses.indexOf(429)).includes(200);
  for (let waited = 0; !retried() && waited < 10_000; waited += 100) await new Promise((done) => setTimeout(done, 100));
  assert.ok(retried(), `statuses: ${statuses}`);
  console.log(`rate limited: Retry-After ${retryAfter} s; the page's requests answered ${statuses.join(", ")}`);
  await page.close();
});

test("the same app from an origin the API does not name cannot call it, nor open its socket", async () => {
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(30_000);
  await signIn(page, elsewhere.url);
  await page.locator(".form-errors", { hasText: "The API cannot be reached" }).waitFor();
  assert.equal(await page.locator(".topbar").count(), 0);
  const socket = await page.evaluate(
    (url) =>
      new Promise((resolve) => {
        const ws = new WebSocket(url, "graphql-transport-ws");
        ws.onopen = () => resolve("open");
        ws.onclose = (event) => resolve(`closed ${event.code}`);
      }),
    `${parley.url.replace("http", "ws")}/graphql`,
  );
  assert.equal(socket, "closed 1006", "the upgrade is refused before it opens");
  await page.screenshot({ path: path.join(ARTIFACTS, "dev-5-other-origin-refused.png") });
  await page.close();
});
