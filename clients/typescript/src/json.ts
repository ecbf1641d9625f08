/** A value of the `JSON` scalar: whatever JSON can hold. */
export type JSONValue = string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };
