import type { ReactNode } from "react";
import type { FieldErrors } from "../api/errors";

export function Field(props: { label: string; name: string; errors: FieldErrors; children: ReactNode }) {
  const message = props.errors.byField[props.name];
  return (
    <label className={message ? "field invalid" : "field"}>
      <span>{props.label}</span>
      {props.children}
      {message && (
        <small className="field-error" data-error-for={props.name} role="alert">
          {message}
        </small>
      )}
    </label>
  );
}

export function FormErrors({ errors }: { errors: FieldErrors }) {
  if (!errors.form.length) return null;
  return (
    <div className="form-errors" role="alert">
      {errors.form.map((message) => (
        <p key={message}>{message}</p>
      ))}
    </div>
  );
}
