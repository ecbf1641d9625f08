// The wire: every operation goes by its hash (trusted documents), with RATE_LIMITED honoured.
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { Store } from "./store";

export const API_URL: string =
  import.meta.env.VITE_PARLEY_API_URL ?? new URL("/graphql", window.location.origin).href;
export const WS_URL = API_URL.replace(/^http/, "ws");

type Persisted = { __meta__?: { hash?: string } };

/** The hash the build's manifest lists a document under (without its `sha256:` prefix). */
export function documentHash(document: unknown): string {
  const hash = (document as Persisted).__meta__?.hash;
  if (!hash) throw new Error("a document without a hash: run `npm run codegen`");
  return hash.replace(/^sha256:/, "");
}

export function persistedExtensions(document: unknown) {
  return { persistedQuery: { version: 1, sha256Hash: documentHash(document) } };
}

/** When the API asked us to wait (429 / RATE_LIMITED): the banner shows it, requests wait. */
export const rateLimitedUntil = new Store<number | null>(null);

const MAX_RATE_LIMIT_RETRIES = 3;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitOut(seconds: number): Promise<void> {
  const until = Date.now() + Math.max(seconds, 0.2) * 1000;
  if ((rateLimitedUntil.get() ?? 0) < until) rateLimitedUntil.set(until);
  await sleep(until - Date.now());
  if ((rateLimitedUntil.get() ?? 0) <= Date.now()) rateLimitedUntil.set(null);
}

type ErrorBody = { data?: unknown; errors?: Array<{ extensions?: { code?: string; retryAfter?: number } }> };

/** How long the answer asks to wait, or null when it is not a rate-limit refusal. */
async function retryAfter(response: Response): Promise<number | null> {
  if (response.status === 429) return Number(response.headers.get("retry-after") ?? "1") || 1;
  if (!response.headers.get("content-type")?.includes("json")) return null;
  const body = (await response.clone().json().catch(() => null)) as ErrorBody | null;
  const limited = body?.errors?.find((e) => e.extensions?.code === "RATE_LIMITED");
  if (!limited || body?.data) return null;
  return limited.extensions?.retryAfter ?? 1;
}

/** `fetch` that waits out RATE_LIMITED (its `retryAfter`, or a 429's Retry-After) and tries again. */
export const rateLimitedFetch: typeof fetch = async (input, init) => {
  for (let attempt = 0; ; attempt++) {
    const pending = rateLimitedUntil.get();
    if (pending && pending > Date.now()) await sleep(pending - Date.now());
    const response = await fetch(input, init);
    const seconds = await retryAfter(response);
    if (seconds === null || attempt >= MAX_RATE_LIMIT_RETRIES) return response;
    await waitOut(seconds);
  }
};

export type WireError = { message: string; extensions?: { code?: string; retryAfter?: number } };

/** One operation outside urql (the token refresh itself, which must not wait on the auth exchange). */
export async function post<R, V>(
  document: TypedDocumentNode<R, V>,
  variables: V,
  headers: Record<string, string> = {},
): Promise<{ data?: R; errors?: WireError[] }> {
  const response = await rateLimitedFetch(API_URL, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: JSON.stringify({ variables, extensions: persistedExtensions(document) }),
  });
  return (await response.json()) as { data?: R; errors?: WireError[] };
}
