// What the browser test runs against: `parley dev` on a fresh embedded stack (a temporary
// PARLEY_VAR_DIR, a free port) serving this build under /app in trusted-documents-only mode,
// behind a TCP proxy the test can cut (every socket dropped, new ones refused) to play a lost
// network. The page talks to the proxy; the test's own calls go straight to the server.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const ROOT = path.resolve(WEB, "..");
export const MANIFEST = path.join(WEB, "src", "gql", "persisted-documents.json");

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `parley dev` on a fresh embedded stack; `env` adds or overrides settings of the test server. */
export async function startParley({ publicUrl, port, env = {} }) {
  const varDir = mkdtempSync(path.join(tmpdir(), "parley-web-test-"));
  let log = "";
  const settings = {
    ...process.env,
    PARLEY_PORT: String(port),
    PARLEY_VAR_DIR: varDir,
    PARLEY_WEB_DIST: path.join(WEB, "dist"),
    PARLEY_TRUSTED_DOCUMENTS_PATH: MANIFEST,
    PARLEY_TRUSTED_DOCUMENTS_ONLY: "true",
    PARLEY_PUBLIC_URL: publicUrl,
    // Seeding 1,000 conversations is 1,000 requests of one user in a few seconds: the
    // per-user request limit and cost refill are raised for that, nothing else changes.
    PARLEY_REQUEST_LIMIT_USER: "100000/minute",
    PARLEY_COST_BUDGET_RESTORE_RATE: "100000",
    ...env,
  };
  const child = spawn(path.join(ROOT, ".venv", "bin", "parley"), ["dev"], {
    cwd: ROOT,
    // A setting given as null is left unset.
    env: Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== null)),
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (chunk) => (log += chunk));
  child.stderr.on("data", (chunk) => (log += chunk));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 120; i++) {
    if (child.exitCode !== null) throw new Error(`parley dev exited:\n${log}`);
    try {
      if ((await fetch(`${url}/health/ready`)).ok) break;
    } catch {}
    await sleep(500);
  }
  return {
    url,
    varDir,
    log: () => log,
    async stop() {
      child.kill("SIGINT");
      for (let i = 0; i < 40 && child.exitCode === null; i++) await sleep(250);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

/** The fake OpenAI-compatible endpoint of the Python tests, in a process of its own. */
export async function startFakeLlm(apiKey) {
  const child = spawn(path.join(ROOT, ".venv", "bin", "python"), [path.join(WEB, "tests", "fake_llm.py"), apiKey], {
    cwd: ROOT,
    env: { ...process.env, PYTHONPATH: ROOT },
    stdio: ["ignore", "pipe", "inherit"],
  });
  process.on("exit", () => child.kill("SIGKILL"));
  const baseUrl = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("\n")) resolve(out.trim());
    });
    child.on("exit", (code) => reject(new Error(`the fake LLM exited (${code})`)));
  });
  return { baseUrl, stop: () => child.kill("SIGTERM") };
}

/** Vite's dev server (`npm run dev`): the SPA on an origin of its own, calling the API at `apiUrl`. */
export async function startVite({ port, apiUrl }) {
  let log = "";
  const child = spawn(path.join(WEB, "node_modules", ".bin", "vite"), ["--host", "127.0.0.1", "--port", String(port), "--strictPort"], {
    cwd: WEB,
    env: { ...process.env, VITE_PARLEY_API_URL: apiUrl, BROWSER: "none" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: stop() ends vite and whatever it started
  });
  child.stdout.on("data", (chunk) => (log += chunk));
  child.stderr.on("data", (chunk) => (log += chunk));
  // Detached, it would outlive a test runner that is stopped: end it with the runner.
  process.on("exit", () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  });
  const url = `http://127.0.0.1:${port}/app/`;
  for (let i = 0; i < 120; i++) {
    if (child.exitCode !== null) throw new Error(`vite exited:\n${log}`);
    try {
      if ((await fetch(url)).ok) break;
    } catch {}
    await sleep(250);
  }
  return {
    url,
    log: () => log,
    async stop() {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      for (let i = 0; i < 40 && child.exitCode === null; i++) await sleep(100);
      if (child.exitCode === null) process.kill(-child.pid, "SIGKILL");
    },
  };
}

export async function startProxy(port, target) {
  const sockets = new Set();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) return client.destroy();
    const upstream = net.connect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      cut = false;
    },
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(resolve); }),
  };
}

/** The build's documents by operation name: the test sends them by hash, as the page does. */
export function manifest() {
  const documents = JSON.parse(readFileSync(MANIFEST, "utf8"));
  const byName = {};
  for (const [hash, text] of Object.entries(documents)) {
    // The operation, wherever it is among its fragments.
    const name = /(?:^|[\s}])(?:query|mutation|subscription)\s+(\w+)/.exec(text)?.[1];
    if (name) byName[name] = hash.replace(/^sha256:/, "");
  }
  return byName;
}

export async function call(url, token, hash, variables) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ variables, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}
