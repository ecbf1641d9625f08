// The emailed confirmation link (`<PARLEY_PUBLIC_URL>/confirm-email?token=…`) lands here.
import { useEffect, useState } from "react";
import { useMutation } from "urql";
import { ConfirmEmailDocument } from "../gql/graphql";
import { navigate } from "./router";

export function ConfirmEmail() {
  const [, confirm] = useMutation(ConfirmEmailDocument);
  const [state, setState] = useState<{ done: boolean; message: string }>({ done: false, message: "Confirming…" });

  useEffect(() => {
    const token = new URLSearchParams(window.location.search).get("token") ?? "";
    void confirm({ input: { token } }).then(({ data, error }) => {
      const problem = error?.message ?? data?.confirmEmail.userErrors[0]?.message;
      setState({ done: !problem, message: problem ?? "Your email address is confirmed." });
    });
  }, [confirm]);

  return (
    <div className="signin">
      <div className="card" data-testid="confirm-email" data-confirmed={state.done}>
        <h1>Email confirmation</h1>
        <p>{state.message}</p>
        <button className="primary" onClick={() => navigate("")}>
          Continue
        </button>
      </div>
    </div>
  );
}
