import { createContext, useCallback, useContext, useEffect, useMemo } from "react";
import { Provider, useClient, useQuery } from "urql";
import { createApiClient } from "../api/client";
import { startInboxFeed } from "../api/inbox";
import { connection, restartLive } from "../api/live";
import { session, signOut } from "../api/session";
import { useStore } from "../api/store";
import { rateLimitedUntil } from "../api/transport";
import { ViewerDocument, type ViewerQuery } from "../gql/graphql";
import { AcceptInvitation } from "./AcceptInvitation";
import { AI } from "./AI";
import { Campaigns } from "./Campaigns";
import { ConfirmEmail } from "./ConfirmEmail";
import { Devices } from "./Devices";
import { Inbox } from "./Inbox";
import { OrganizationSwitcher } from "./OrganizationSwitcher";
import { navigate, useRoute } from "./router";
import { SignIn } from "./SignIn";
import { Team } from "./Team";

export const ViewerContext = createContext<ViewerQuery | null>(null);
export const useViewer = () => useContext(ViewerContext);
/** Reads the viewer again (its organizations changed): the persisted documents carry no
 * `__typename`, so urql's document cache cannot tell by itself. */
export const RefetchViewerContext = createContext<() => void>(() => {});

export function App() {
  const current = useStore(session);
  const [page] = useRoute();
  // A new client (an empty cache) per user and organization: nothing of one shows in another.
  // Not per token: a refreshed token keeps the client, the screens and the feed (the socket
  // reconnects by itself and resumes after its cursor).
  const signedInAs = current ? `${current.userId ?? current.refreshToken.slice(0, 12)}|${current.organizationId ?? ""}` : "";
  const client = useMemo(() => createApiClient(), [signedInAs]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <Provider value={client}>
      {page === "confirm-email" ? <ConfirmEmail /> : current ? <Shell key={current.organizationId ?? ""} /> : <SignIn />}
    </Provider>
  );
}

function Shell() {
  const [page] = useRoute();
  const [{ data }, reexecuteViewer] = useQuery({ query: ViewerDocument });
  const refetchViewer = useCallback(() => reexecuteViewer({ requestPolicy: "network-only" }), [reexecuteViewer]);
  const online = useStore(connection);
  const limitedUntil = useStore(rateLimitedUntil);
  const client = useClient();

  useEffect(() => {
    restartLive();
    return startInboxFeed(client);
  }, [client]);

  return (
    <RefetchViewerContext.Provider value={refetchViewer}>
    <ViewerContext.Provider value={data ?? null}>
      <div className="shell">
        <header className="topbar">
          <strong className="brand">Parley</strong>
          <nav>
            {[
              ["", "Inbox"],
              ["devices", "Devices"],
              ["campaigns", "Campaigns"],
              ["ai", "AI"],
              ["team", "Team"],
            ].map(([path, label]) => (
              <a
                key={path}
                href={import.meta.env.BASE_URL + path}
                className={(page ?? "") === path || (path === "" && page === "inbox") ? "active" : ""}
                onClick={(event) => {
                  event.preventDefault();
                  navigate(path);
                }}
              >
                {label}
              </a>
            ))}
          </nav>
          <OrganizationSwitcher viewer={data ?? null} />
          <span className="user">{data?.me?.name}</span>
          <button onClick={signOut}>Sign out</button>
        </header>
        {online === "offline" && (
          <div className="banner offline" role="status" data-testid="offline-banner">
            Offline — reconnecting; the inbox catches up as soon as the connection is back.
          </div>
        )}
        {limitedUntil !== null && (
          <div className="banner limited" role="status" data-testid="rate-limited-banner">
            The API asked us to slow down: retrying at {new Date(limitedUntil).toLocaleTimeString()}.
          </div>
        )}
        {data?.me && !data.me.emailVerified && (
          <div className="banner notice">Confirm your email address: the link is in your inbox.</div>
        )}
        <main>
          {page === "devices" ? (
            <Devices />
          ) : page === "campaigns" ? (
            <Campaigns />
          ) : page === "ai" ? (
            <AI />
          ) : page === "team" ? (
            <Team />
          ) : page === "accept-invitation" ? (
            <AcceptInvitation />
          ) : (
            <Inbox />
          )}
        </main>
      </div>
    </ViewerContext.Provider>
    </RefetchViewerContext.Provider>
  );
}
