// The organizations this browser has seen the user in (the API lists no memberships of a user
// yet); picking one sends its id as X-Organization-Id and as the socket's organizationId.
import { useEffect, useState } from "react";
import { restartLive } from "../api/live";
import { session } from "../api/session";

type Known = { id: string; name: string };
const KEY = "parley.organizations";

function known(): Known[] {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? "[]") as Known[];
  } catch {
    return [];
  }
}

export function OrganizationSwitcher({ organization }: { organization: Known | null }) {
  const [organizations, setOrganizations] = useState(known);

  useEffect(() => {
    if (!organization) return;
    const next = [organization, ...known().filter((o) => o.id !== organization.id)];
    localStorage.setItem(KEY, JSON.stringify(next));
    setOrganizations(next);
  }, [organization]);

  function pick(id: string) {
    const current = session.get();
    if (!current || id === organization?.id) return;
    session.set({ ...current, organizationId: id });
    restartLive();
  }

  return (
    <select
      className="org-switcher"
      aria-label="Organization"
      value={organization?.id ?? ""}
      onChange={(event) => pick(event.target.value)}
    >
      {organizations.map((o) => (
        <option key={o.id} value={o.id}>
          {o.name}
        </option>
      ))}
    </select>
  );
}
