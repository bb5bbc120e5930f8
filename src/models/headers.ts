/** One header of an undici response (names are lowercase there); the first when it is repeated. */
export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** `W/"abc"` → `abc`, as huggingface_hub normalizes ETags. */
export function normalizeEtag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}
