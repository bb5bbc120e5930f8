import { usageError } from '../errors.js';
import type { ContainerInfo, DockerEngine, LogLine } from '../docker/engine.js';

/**
 * `logs`: several services' logs interleaved. Without --follow, lines are merged in time order
 * (the engine's timestamps); with it, they appear as they come.
 */

export interface LogsOptions {
  follow: boolean;
  tail?: number | undefined;
  /** Unix seconds. */
  since?: number | undefined;
}

export interface ServiceLogLine extends LogLine {
  service: string;
  /** RFC 3339 time the engine recorded, when asked for. */
  time: string | null;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * `--since`: a duration back from now (90s, 10m, 1h30m, 2d), an RFC 3339 / ISO 8601 time, or
 * Unix seconds. Returns Unix seconds.
 */
export function parseSince(value: string, now: number = Date.now()): number {
  const text = value.trim();
  if (/^(\d+(s|m|h|d))+$/.test(text)) {
    let seconds = 0;
    for (const [, n, unit] of text.matchAll(/(\d+)(s|m|h|d)/g)) seconds += Number(n) * UNITS[unit!]!;
    return Math.floor(now / 1000) - seconds;
  }
  if (/^\d+(\.\d+)?$/.test(text)) return Math.floor(Number(text));
  const parsed = Date.parse(text);
  if (!Number.isNaN(parsed) && /^\d{4}-\d{2}-\d{2}/.test(text)) return Math.floor(parsed / 1000);
  throw usageError(`--since expects a duration (10m, 1h30m, 2d), a time (2024-01-01T12:00:00Z) or Unix seconds, got "${value}"`, 'for example: msting logs --since 10m');
}

const STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) ?/;

export function splitTimestamp(text: string): { time: string | null; text: string } {
  const m = STAMP.exec(text);
  return m ? { time: m[1]!, text: text.slice(m[0].length) } : { time: null, text };
}

/** RFC 3339 with nanoseconds compares correctly as a number of nanoseconds, not as a string. */
function timeKey(time: string | null): bigint {
  if (!time) return 0n;
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(time);
  if (!m) return 0n;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  return BigInt(ms) * 1_000_000n + BigInt(frac);
}

export async function streamLogs(
  engine: DockerEngine,
  containers: readonly ContainerInfo[],
  options: LogsOptions,
  signal: AbortSignal,
  onLine: (line: ServiceLogLine) => void,
): Promise<void> {
  const engineOptions = { follow: options.follow, tail: options.tail, since: options.since, timestamps: true };
  if (!options.follow) {
    // Read each log whole, then merge by time: the interleaving a reader expects.
    const all = await Promise.all(
      containers.map(async (c) => {
        const lines: ServiceLogLine[] = [];
        for await (const line of engine.logs(c.id, engineOptions, signal)) lines.push({ ...line, service: c.service, ...splitTimestamp(line.text) });
        return lines;
      }),
    );
    const merged = all.flat().map((line, i) => ({ line, i, key: timeKey(line.time) }));
    merged.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i));
    for (const { line } of merged) onLine(line);
    return;
  }
  await Promise.all(
    containers.map(async (c) => {
      for await (const line of engine.logs(c.id, engineOptions, signal)) {
        if (signal.aborted) return;
        onLine({ ...line, service: c.service, ...splitTimestamp(line.text) });
      }
    }),
  );
}
