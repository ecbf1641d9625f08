// userErrors shown at their fields: `["input", "email"]` belongs to the form's `email` field.
import type { CombinedError } from "urql";

export type UserErrorLike = { field?: ReadonlyArray<string> | null; message: string; code?: string };

export type FieldErrors = { byField: Record<string, string>; form: string[] };

export const NO_ERRORS: FieldErrors = { byField: {}, form: [] };

export function fieldErrors(errors: ReadonlyArray<UserErrorLike> | null | undefined, fields: readonly string[]): FieldErrors {
  const result: FieldErrors = { byField: {}, form: [] };
  for (const error of errors ?? []) {
    const path = (error.field ?? []).filter((part) => part !== "input");
    const name = path.find((part) => fields.includes(part));
    if (name && !result.byField[name]) result.byField[name] = error.message;
    else result.form.push(error.message);
  }
  return result;
}

export function transportErrors(error: CombinedError | undefined): FieldErrors {
  if (!error) return NO_ERRORS;
  const messages = error.graphQLErrors.length
    ? error.graphQLErrors.map((e) => `${e.extensions?.code ?? "ERROR"}: ${e.message}`)
    : [error.networkError ? "The API cannot be reached: check your connection." : error.message];
  return { byField: {}, form: messages };
}
