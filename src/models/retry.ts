/** Seconds or an HTTP date, as Retry-After allows. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential backoff with full jitter in [50 %, 150 %] of the step, capped at 30 s. */
export function backoffDelay(attempt: number, baseMs: number, random = Math.random): number {
  const step = Math.min(baseMs * 2 ** attempt, 30_000);
  return Math.round(step * (0.5 + random()));
}
