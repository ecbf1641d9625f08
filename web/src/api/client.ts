// urql for queries and mutations: the token (refreshed on expiry), the organization header, and
// persisted documents only (the build's manifest is the server's trusted list).
import { authExchange } from "@urql/exchange-auth";
import { persistedExchange } from "@urql/exchange-persisted";
import { Client, cacheExchange, fetchExchange } from "urql";
import { expiresSoon, organizationHeader, refresh, session } from "./session";
import { API_URL, documentHash, rateLimitedFetch } from "./transport";

export function createApiClient(): Client {
  return new Client({
    url: API_URL,
    fetch: rateLimitedFetch,
    requestPolicy: "cache-and-network",
    preferGetMethod: false,
    exchanges: [
      cacheExchange,
      authExchange(async (utils) => ({
        addAuthToOperation(operation) {
          const current = session.get();
          if (!current) return operation;
          return utils.appendHeaders(operation, {
            Authorization: `Bearer ${current.accessToken}`,
            ...organizationHeader(current),
          });
        },
        willAuthError: () => expiresSoon(),
        didAuthError: (error) =>
          error.response?.status === 401 ||
          error.graphQLErrors.some((e) => e.extensions?.code === "UNAUTHENTICATED"),
        async refreshAuth() {
          await refresh();
        },
      })),
      persistedExchange({
        // Only hashes travel: the server runs with PARLEY_TRUSTED_DOCUMENTS_ONLY and this build's manifest.
        enforcePersistedQueries: true,
        enableForMutation: true,
        preferGetForPersistedQueries: false,
        generateHash: async (_query, document) => documentHash(document),
      }),
      fetchExchange,
    ],
  });
}
