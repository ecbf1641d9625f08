// A tiny typed client: operations go by hash (trusted documents), over HTTP and graphql-ws.
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

type Persisted = { __meta__?: { hash?: string } };

export class GraphQLError extends Error {
  constructor(readonly errors: ReadonlyArray<{ message: string; extensions?: { code?: string } }>) {
    super(errors.map((e) => `${e.extensions?.code ?? "ERROR"}: ${e.message}`).join("; "));
  }
}

/** The hash the manifest lists a document under, as Apollo's persistedQuery extension sends it. */
function persistedQuery(document: unknown) {
  const hash = (document as Persisted).__meta__?.hash;
  if (!hash) throw new Error("a document without a hash: run `npm run codegen`");
  return { persistedQuery: { version: 1, sha256Hash: hash.replace(/^sha256:/, "") } };
}

export class Parley {
  token: string | undefined;
  private ws: Client | undefined;

  constructor(readonly url: string) {}

  async request<R, V>(document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
    const response = await fetch(this.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      },
      body: JSON.stringify({ variables, extensions: persistedQuery(document) }),
    });
    const body = (await response.json()) as { data?: R; errors?: GraphQLError["errors"] };
    if (body.errors?.length) throw new GraphQLError(body.errors);
    if (!body.data) throw new Error(`HTTP ${response.status} without data`);
    return body.data;
  }

  /** Every result of a subscription, until `break` or the server completes it. */
  async *subscribe<R, V>(document: TypedDocumentNode<R, V>, variables: V): AsyncGenerator<R> {
    this.ws ??= createClient({
      url: this.url.replace(/^http/, "ws"),
      webSocketImpl: WebSocket,
      connectionParams: () => (this.token ? { authorization: `Bearer ${this.token}` } : {}),
      lazy: true,
    });
    // graphql-ws sends `query`; a trusted-documents server reads the hash in `extensions`.
    const results = this.ws.iterate({
      query: "",
      variables: variables as Record<string, unknown>,
      extensions: persistedQuery(document),
    });
    for await (const result of results) {
      if (result.errors?.length) throw new GraphQLError(result.errors);
      yield result.data as R;
    }
  }

  async close(): Promise<void> {
    await this.ws?.dispose();
  }
}
