// Subscriptions over graphql-ws, kept alive across network loss and token expiry.
//
// graphql-ws retries a dropped socket by itself, but it re-sends each subscription with the
// variables it started with, and it gives up on 4401 (token expired). The inbox must resume
// from its last cursor (`inboxEvents(after:)`) with a fresh token, so this layer reconnects
// itself: any close ends every subscription, and after a short wait each one is subscribed
// again with its variables computed anew (the latest cursor) on a socket signed in with a
// fresh token. `connection` drives the offline banner; `onResync` listeners refetch what a
// subscription without a cursor cannot replay.
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { createClient, type Client } from "graphql-ws";
import { freshAccessToken, refresh, session } from "./session";
import { Store } from "./store";
import { WS_URL, persistedExtensions } from "./transport";

export type Connection = "connecting" | "online" | "offline";
export const connection = new Store<Connection>("connecting");

type Handlers<R> = { next: (data: R) => void; error?: (message: string, code?: string) => void };
type GraphQLErrorLike = { message: string; extensions?: { code?: string } };

type Live = {
  start: () => void;
  stop: () => void;
};

const subscriptions = new Set<Live>();
const resyncListeners = new Set<() => void>();
let client: Client | null = null;
let wasOffline = false;
let retryTimer: ReturnType<typeof setTimeout> | null = null;
let retryDelay = 500;
const MAX_RETRY_DELAY = 5_000;

type CloseLike = { code?: number; reason?: string };

function isClose(error: unknown): error is CloseLike {
  return typeof error === "object" && error !== null && "code" in error;
}

function socket(): Client {
  client ??= createClient({
    url: WS_URL,
    lazy: true,
    retryAttempts: 0, // reconnecting is ours (see above)
    keepAlive: 10_000,
    connectionParams: async () => {
      const token = await freshAccessToken();
      const organizationId = session.get()?.organizationId;
      return {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(organizationId ? { organizationId } : {}),
      };
    },
    on: {
      connected: () => {
        retryDelay = 500;
        connection.set("online");
        if (wasOffline) {
          wasOffline = false;
          for (const listener of [...resyncListeners]) listener();
        }
      },
      closed: (event) => {
        if (subscriptions.size === 0) return;
        const code = isClose(event) ? event.code : undefined;
        // 4401: the token expired on the socket (or was refused): refresh before the next try.
        if (code === 4401) void refresh();
        if (code !== 1000) {
          wasOffline = true;
          connection.set("offline");
        }
      },
    },
  });
  return client;
}

function scheduleRestart(): void {
  if (retryTimer !== null) return;
  retryTimer = setTimeout(() => {
    retryTimer = null;
    for (const live of subscriptions) live.start();
  }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, MAX_RETRY_DELAY);
}

/** Subscribes until the returned function is called; `variables` is read at each (re)start. */
export function subscribe<R, V>(
  document: TypedDocumentNode<R, V>,
  variables: () => V,
  handlers: Handlers<R>,
): () => void {
  let dispose: (() => void) | null = null;
  const live: Live = {
    start() {
      dispose?.();
      dispose = socket().subscribe<R>(
        // graphql-ws wants a `query`; a trusted-documents server reads the hash in `extensions`.
        { query: "", variables: variables() as Record<string, unknown>, extensions: persistedExtensions(document) },
        {
          next: (result) => {
            if (result.errors?.length) {
              handlers.error?.(result.errors.map((e) => e.message).join("; "));
              return;
            }
            if (result.data) handlers.next(result.data as R);
          },
          error: (error) => {
            dispose = null;
            if (isClose(error) && error.code === 4403) {
              handlers.error?.("This organization is not yours: pick another one.");
              return;
            }
            if (Array.isArray(error)) {
              // A GraphQL error ending the subscription (UNAUTHENTICATED after a logout, NOT_FOUND).
              const errors = error as GraphQLErrorLike[];
              handlers.error?.(errors.map((e) => e.message).join("; "), errors[0]?.extensions?.code);
              if (!session.get()) return;
            }
            scheduleRestart();
          },
          complete: () => {
            dispose = null;
          },
        },
      );
    },
    stop() {
      subscriptions.delete(live);
      dispose?.();
      dispose = null;
    },
  };
  subscriptions.add(live);
  live.start();
  return live.stop;
}

/** Called after the socket came back from a loss: refetch what events cannot replay. */
export function onResync(listener: () => void): () => void {
  resyncListeners.add(listener);
  return () => resyncListeners.delete(listener);
}

/** A new socket (another organization, another user): every subscription starts again on it. */
export function restartLive(): void {
  const old = client;
  client = null;
  void old?.dispose();
  for (const live of subscriptions) live.start();
}

// The browser knows before the socket does: go offline at once, and reconnect when back.
window.addEventListener("offline", () => {
  wasOffline = true;
  connection.set("offline");
});
window.addEventListener("online", () => {
  retryDelay = 500;
  restartLive();
});
