// The emailed invitation link (`<PARLEY_PUBLIC_URL>/accept-invitation?token=…`) lands here, signed
// in (the app asks to sign in first). Joining adds the organization to the switcher (the viewer
// is read again).
import { useContext, useState } from "react";
import { useMutation } from "urql";
import { fieldErrors, transportErrors } from "../api/errors";
import { AcceptInvitationDocument } from "../gql/graphql";
import { RefetchViewerContext } from "./App";
import { navigate } from "./router";

export function AcceptInvitation() {
  const [, accept] = useMutation(AcceptInvitationDocument);
  const refetchViewer = useContext(RefetchViewerContext);
  const [state, setState] = useState<{ joined: string | null; problem: string | null }>({ joined: null, problem: null });

  async function join() {
    const token = new URLSearchParams(window.location.search).get("token") ?? "";
    const { data, error } = await accept({ input: { token } });
    const problems = error ? transportErrors(error) : fieldErrors(data?.acceptInvitation.userErrors, []);
    const member = data?.acceptInvitation.member;
    if (member) refetchViewer();
    setState({ joined: member ? member.organization.name : null, problem: problems.form[0] ?? null });
  }

  return (
    <div className="page">
      <div className="card" data-testid="accept-invitation" data-joined={state.joined !== null}>
        <h2>Invitation</h2>
        {state.joined ? (
          <>
            <p>You joined {state.joined}: pick it in the organization menu at the top.</p>
            <button className="primary" onClick={() => navigate("")}>
              Continue
            </button>
          </>
        ) : (
          <>
            {state.problem && (
              <p className="form-errors" role="alert">
                {state.problem}
              </p>
            )}
            <button className="primary" onClick={() => void join()}>
              Join the organization
            </button>
          </>
        )}
      </div>
    </div>
  );
}
