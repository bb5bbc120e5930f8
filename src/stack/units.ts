/**
 * Sizes and durations as config.yml writes them, converted once into the forms each consumer
 * parses: compose and nginx sizes, Redis and Postgres memory, Go and nginx durations. Sizes use
 * binary multiples (1m = 1 MiB), the way Docker reads them.
 */

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)$/i;
const MULTIPLIER: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Bytes in a size such as `512m`, `1g`, `2GiB`, `256MB` or `1048576`. */
export function parseMemory(value: string): number {
  const match = SIZE.exec(value.trim());
  if (!match) throw new Error(`not a size: ${JSON.stringify(value)}`);
  const unit = (match[2] ?? '').toLowerCase();
  return Math.round(Number(match[1]) * (MULTIPLIER[unit] ?? 1));
}

/** A size compose, Docker and nginx all accept: the largest whole unit, e.g. `512m`, `2g`, `1536k`. */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

/** PostgreSQL memory setting (units are case-sensitive there): `256MB`, `1GB`, `512kB`. */
export function formatPgMemory(bytes: number): string {
  for (const [unit, factor] of [['TB', 1024 ** 4], ['GB', 1024 ** 3], ['MB', 1024 ** 2]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${Math.max(1, Math.floor(bytes / 1024))}kB`;
}

const DURATION_PART = /(\d+)(ms|s|m|h|d)/g;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds in a duration such as `30s`, `1h30m`, `7d` or `0`. */
export function parseDuration(value: string): number {
  if (value === '0') return 0;
  if (!/^(\d+(ms|s|m|h|d))+$/.test(value)) throw new Error(`not a duration: ${JSON.stringify(value)}`);
  let total = 0;
  for (const part of value.matchAll(DURATION_PART)) total += Number(part[1]) * (DURATION_MS[part[2] ?? 's'] ?? 0);
  return total;
}

/** A Go `time.Duration` string (no `d` unit there): `24h`, `1h30m`, `90s`, `500ms`. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 1000 !== 0) return `${ms}ms`;
  let seconds = ms / 1000;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return `${hours ? `${hours}h` : ''}${minutes ? `${minutes}m` : ''}${seconds ? `${seconds}s` : ''}`;
}

/** Whole seconds, rounded up, for settings that only take seconds. */
export function toSeconds(ms: number): number {
  return Math.ceil(ms / 1000);
}
