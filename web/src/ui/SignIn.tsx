// Sign in (email + password, then the TOTP code when the account has MFA on) or create an account.
import { useState, type FormEvent } from "react";
import { useMutation } from "urql";
import { fieldErrors, NO_ERRORS, transportErrors, type FieldErrors } from "../api/errors";
import { signedIn } from "../api/session";
import { LoginDocument, RegisterDocument } from "../gql/graphql";
import { Field, FormErrors } from "./forms";

const FIELDS = ["email", "password", "name", "organizationName", "otp"];

export function SignIn() {
  const [mode, setMode] = useState<"signin" | "register">("signin");
  const [form, setForm] = useState({ email: "", password: "", name: "", organizationName: "", otp: "" });
  const [mfa, setMfa] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  const [, login] = useMutation(LoginDocument);
  const [, register] = useMutation(RegisterDocument);
  const set = (key: keyof typeof form) => (event: { target: { value: string } }) =>
    setForm({ ...form, [key]: event.target.value });

  async function submit(event: FormEvent) {
    event.preventDefault();
    setErrors(NO_ERRORS);
    if (mode === "register") {
      const { data, error } = await register({
        input: { email: form.email, password: form.password, name: form.name, organizationName: form.organizationName },
      });
      if (error) return setErrors(transportErrors(error));
      if (data && !signedIn(data.register, null)) setErrors(fieldErrors(data.register.userErrors, FIELDS));
      return;
    }
    const { data, error } = await login({
      input: { email: form.email, password: form.password, otp: mfa ? form.otp : null },
    });
    if (error) return setErrors(transportErrors(error));
    if (!data) return;
    if (data.login.mfaRequired && !data.login.accessToken) {
      setMfa(true);
      setErrors(fieldErrors(data.login.userErrors, FIELDS));
      return;
    }
    if (!signedIn(data.login, null)) setErrors(fieldErrors(data.login.userErrors, FIELDS));
  }

  return (
    <div className="signin">
      <form onSubmit={submit} className="card" aria-label={mode === "signin" ? "Sign in" : "Create account"}>
        <h1>Parley</h1>
        <div className="tabs">
          <button type="button" className={mode === "signin" ? "active" : ""} onClick={() => setMode("signin")}>
            Sign in
          </button>
          <button type="button" className={mode === "register" ? "active" : ""} onClick={() => setMode("register")}>
            Create account
          </button>
        </div>
        <FormErrors errors={errors} />
        {!mfa && (
          <>
            <Field label="Email" name="email" errors={errors}>
              <input name="email" type="email" autoComplete="username" value={form.email} onChange={set("email")} required />
            </Field>
            <Field label="Password" name="password" errors={errors}>
              <input name="password" type="password" autoComplete={mode === "signin" ? "current-password" : "new-password"} value={form.password} onChange={set("password")} required />
            </Field>
          </>
        )}
        {mode === "register" && (
          <>
            <Field label="Your name" name="name" errors={errors}>
              <input name="name" value={form.name} onChange={set("name")} />
            </Field>
            <Field label="Organization" name="organizationName" errors={errors}>
              <input name="organizationName" value={form.organizationName} onChange={set("organizationName")} />
            </Field>
          </>
        )}
        {mfa && (
          <Field label="Code from your authenticator app (or a recovery code)" name="otp" errors={errors}>
            <input name="otp" inputMode="numeric" autoComplete="one-time-code" autoFocus value={form.otp} onChange={set("otp")} />
          </Field>
        )}
        <button type="submit" className="primary">
          {mode === "register" ? "Create account" : mfa ? "Verify" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
