import { chmod, mkdir, open, rename, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createRedactor, type Redactor } from '../doctor/redact.js';

/**
 * The operation log: one JSON object a line, appended to `logs/msting.log` (mode 0600) for every
 * run of a long command (install, update, uninstall, ...). Each line carries the time, the run id
 * and the command; every string passes through a redactor first, so no secret reaches the file
 * even when a message quotes one. Reusable by any command: open, `write`, `close`.
 */

export interface RunLogEntry {
  event: string;
  [key: string]: unknown;
}

export interface RunLog {
  readonly path: string | null;
  readonly runId: string;
  readonly redactor: Redactor;
  write(entry: RunLogEntry): void;
  /** Wait for every line written so far to reach the file. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** The log is rotated at its next opening once it reaches this size... */
export const RUN_LOG_ROTATE_BYTES = 10 * 1024 * 1024;
/** ...keeping this many older files: msting.log.1 (newest) to msting.log.5. */
export const RUN_LOG_KEEP = 5;

export interface OpenRunLogOptions {
  command: string;
  /** Rotation threshold in bytes (default RUN_LOG_ROTATE_BYTES). */
  rotateBytes?: number;
  /** Secret values known up front. */
  secrets?: Iterable<string>;
  now?: () => Date;
}

function newRunId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${process.pid}`;
}

/** Open (create) the log file; a log that cannot be opened is replaced by one that drops lines. */
export async function openRunLog(path: string, options: OpenRunLogOptions): Promise<RunLog> {
  const now = options.now ?? (() => new Date());
  const redactor = createRedactor(options.secrets ?? []);
  const runId = newRunId(now());
  let handle: FileHandle | undefined;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await rotateIfFull(path, options.rotateBytes ?? RUN_LOG_ROTATE_BYTES);
    handle = await open(path, 'a', 0o600);
    await chmod(path, 0o600);
  } catch {
    handle = undefined;
  }
  let chain: Promise<void> = Promise.resolve();
  const log: RunLog = {
    path: handle ? path : null,
    runId,
    redactor,
    write(entry) {
      if (!handle) return;
      const line = JSON.stringify(redactor.value({ time: now().toISOString(), run: runId, command: options.command, ...entry }));
      const h = handle;
      chain = chain.then(() => h.appendFile(`${line}\n`)).catch(() => undefined);
    },
    flush: () => chain,
    async close() {
      await chain;
      if (handle) {
        const h = handle;
        handle = undefined;
        await h.sync().catch(() => undefined);
        await h.close().catch(() => undefined);
      }
    },
  };
  return log;
}

/**
 * Size-based rotation, done when a run opens the log (msting has no daemon): a full log becomes
 * `<path>.1`, older ones shift up, and the oldest beyond RUN_LOG_KEEP is replaced. Renames only,
 * so a line is never lost or torn; a run that cannot rotate (permissions) appends as before.
 */
async function rotateIfFull(path: string, limit: number): Promise<void> {
  const size = (await stat(path).catch(() => undefined))?.size ?? 0;
  if (size < limit) return;
  try {
    for (let n = RUN_LOG_KEEP - 1; n >= 1; n--) {
      await rename(`${path}.${n}`, `${path}.${n + 1}`).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    await rename(path, `${path}.1`);
  } catch {
    // Keep appending to the full file rather than lose the run's lines.
  }
}

/** A log that writes nothing (dry runs, tests). */
export function nullRunLog(): RunLog {
  return {
    path: null,
    runId: 'none',
    redactor: createRedactor(),
    write: () => undefined,
    flush: async () => undefined,
    close: async () => undefined,
  };
}
