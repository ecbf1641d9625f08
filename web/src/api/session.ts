// Who is signed in: the tokens (kept in localStorage), the chosen organization, the refresh.
import { RefreshTokenDocument, type SignedInFragment } from "../gql/graphql";
import { Store } from "./store";
import { post } from "./transport";

export type Session = {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the access token expires. */
  expiresAt: number;
  /** Who is signed in (a global id): the app keeps one client per user and organization. */
  userId: string | null;
  userName: string | null;
  /** The organization picked in the switcher (X-Organization-Id / connection_init organizationId). */
  organizationId: string | null;
};

const KEY = "parley.session";
const REFRESH_MARGIN_MS = 30_000;

function load(): Session | null {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? "null") as Session | null;
  } catch {
    return null;
  }
}

export const session = new Store<Session | null>(load());
session.subscribe(() => {
  const value = session.get();
  if (value) localStorage.setItem(KEY, JSON.stringify(value));
  else localStorage.removeItem(KEY);
});

/** Keeps the session of a successful sign-in (register, login, refresh); false without tokens. */
export function signedIn(payload: SignedInFragment, organizationId?: string | null): boolean {
  if (!payload.accessToken || !payload.refreshToken) return false;
  const previous = session.get();
  session.set({
    accessToken: payload.accessToken,
    refreshToken: payload.refreshToken,
    expiresAt: Date.now() + (payload.expiresIn ?? 900) * 1000,
    userId: payload.user?.id ?? previous?.userId ?? null,
    userName: payload.user?.name ?? previous?.userName ?? null,
    organizationId: organizationId !== undefined ? organizationId : (previous?.organizationId ?? null),
  });
  return true;
}

export function signOut(): void {
  session.set(null);
}

export function expiresSoon(value: Session | null = session.get()): boolean {
  return value !== null && value.expiresAt - REFRESH_MARGIN_MS <= Date.now();
}

let refreshing: Promise<Session | null> | null = null;

/** A new access token from the refresh token (one request at a time); null: signed out. */
export function refresh(): Promise<Session | null> {
  refreshing ??= (async () => {
    const current = session.get();
    if (!current) return null;
    try {
      const { data } = await post(RefreshTokenDocument, { input: { refreshToken: current.refreshToken } });
      if (data && signedIn(data.refreshToken)) return session.get();
      signOut(); // the refresh token was refused (expired, revoked, reused)
      return null;
    } catch {
      return current; // offline: keep the session, try again on the next request
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** An access token that is valid for at least the margin (refreshed when it is not). */
export async function freshAccessToken(): Promise<string | null> {
  const current = session.get();
  if (!current) return null;
  if (!expiresSoon(current)) return current.accessToken;
  return (await refresh())?.accessToken ?? null;
}

export function organizationHeader(value: Session | null = session.get()): Record<string, string> {
  return value?.organizationId ? { "X-Organization-Id": value.organizationId } : {};
}
