// The organization's members with their roles; OWNERs and ADMINs invite by email (the invitee
// opens the emailed link, `<PARLEY_PUBLIC_URL>/accept-invitation?token=…`: AcceptInvitation).
import { useState, type FormEvent } from "react";
import { useMutation } from "urql";
import { fieldErrors, NO_ERRORS, transportErrors, type FieldErrors } from "../api/errors";
import { InviteMemberDocument, type Role } from "../gql/graphql";
import { useViewer } from "./App";
import { Field, FormErrors } from "./forms";

const ROLES: Role[] = ["VIEWER", "AGENT", "ADMIN", "OWNER"];

export function Team() {
  const viewer = useViewer();
  const organization = viewer?.organization;
  const mayInvite = organization?.viewerRole === "OWNER" || organization?.viewerRole === "ADMIN";
  const [form, setForm] = useState<{ email: string; role: Role }>({ email: "", role: "AGENT" });
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  const [invited, setInvited] = useState<string | null>(null);
  const [, invite] = useMutation(InviteMemberDocument);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setInvited(null);
    const { data, error } = await invite({ input: form });
    if (error) return setErrors(transportErrors(error));
    setErrors(fieldErrors(data?.inviteMember.userErrors, ["email", "role"]));
    if (data?.inviteMember.email) {
      setInvited(data.inviteMember.email);
      setForm({ ...form, email: "" });
    }
  }

  return (
    <div className="page">
      <h2>Team of {organization?.name}</h2>
      <ul className="cards" data-testid="members">
        {organization?.members.nodes.map((m) => (
          <li key={m.id} className="card">
            <strong>{m.user.name}</strong> <span className="muted">{m.role.toLowerCase()}</span>
          </li>
        ))}
      </ul>
      {mayInvite && (
        <form className="card" onSubmit={submit} aria-label="Invite a member">
          <h3>Invite a member</h3>
          <FormErrors errors={errors} />
          <Field label="Email" name="email" errors={errors}>
            <input name="inviteEmail" type="email" value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} />
          </Field>
          <Field label="Role" name="role" errors={errors}>
            <select name="inviteRole" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
              {ROLES.map((role) => (
                <option key={role} value={role}>
                  {role.toLowerCase()}
                </option>
              ))}
            </select>
          </Field>
          <button type="submit" className="primary">
            Invite
          </button>
          {invited && <p data-testid="invited">Invitation sent to {invited}.</p>}
        </form>
      )}
    </div>
  );
}
