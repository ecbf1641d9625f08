// The organizations the signed-in user belongs to (`me.memberships`); picking one keeps its id in
// the session, which sends it as X-Organization-Id and as the socket's `organizationId`. The app
// then starts afresh in it: a new urql client (an empty cache, so every screen reads again), a
// new socket, the inbox feed subscribed again from that organization's head.
import { session } from "../api/session";
import type { ViewerQuery } from "../gql/graphql";

type Props = { viewer: ViewerQuery | null };

export function OrganizationSwitcher({ viewer }: Props) {
  const current = viewer?.organization ?? null;
  const memberships = viewer?.me?.memberships ?? [];

  function pick(id: string) {
    const value = session.get();
    if (!value || id === current?.id) return;
    // The app remounts for the new organization (App: a client per organization, a Shell keyed
    // on it) and the new Shell starts the socket and the feed again; restarting them here, before
    // React rendered, would subscribe the old screens' documents on the new organization's socket.
    session.set({ ...value, organizationId: id });
  }

  return (
    <select
      className="org-switcher"
      aria-label="Organization"
      data-organization-id={current?.id ?? ""}
      value={current?.id ?? ""}
      onChange={(event) => pick(event.target.value)}
    >
      {memberships.length === 0 && current && <option value={current.id}>{current.name}</option>}
      {memberships.map((m) => (
        <option key={m.organization.id} value={m.organization.id}>
          {m.organization.name} ({m.role.toLowerCase()})
        </option>
      ))}
    </select>
  );
}
