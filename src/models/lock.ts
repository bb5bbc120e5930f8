import { hostname } from 'node:os';
import { mkdir, open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One writer per blob: an O_EXCL lock file holding `{pid, host, at}`. A lock is stale when its
 * process is gone (same host) or it has not been refreshed for `staleMs` (another host on a
 * shared file system, or a process frozen by a reboot). The holder refreshes the file's mtime
 * while it works, so a long download is never taken for stale.
 */
export interface FileLock {
  release(): Promise<void>;
}

export interface LockOptions {
  signal: AbortSignal;
  staleMs?: number;
  pollMs?: number;
  /** Called once when the lock is held by someone else and we start waiting. */
  onWait?: (holder: LockHolder) => void;
}

export interface LockHolder {
  pid: number;
  host: string;
  at: string;
}

const DEFAULT_STALE_MS = 120_000;

export async function acquireLock(path: string, options: LockOptions): Promise<FileLock> {
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  await mkdir(dirname(path), { recursive: true });
  let waited = false;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o644);
      const holder: LockHolder = { pid: process.pid, host: hostname(), at: new Date().toISOString() };
      await handle.writeFile(JSON.stringify(holder));
      await handle.close();
      const refresh = setInterval(() => {
        const now = new Date();
        utimes(path, now, now).catch(() => undefined);
      }, Math.max(1000, Math.floor(staleMs / 4)));
      refresh.unref();
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          clearInterval(refresh);
          await rm(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readHolder(path);
    if (await isStale(path, holder, staleMs)) {
      await rm(path, { force: true });
      continue;
    }
    if (!waited && holder) options.onWait?.(holder);
    waited = true;
    await sleep(options.pollMs ?? 500, undefined, { signal: options.signal });
  }
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return { pid: parsed.pid, host: parsed.host, at: String(parsed.at ?? '') };
  } catch {
    // Empty or torn (the holder died between create and write): judged by age below.
  }
  return undefined;
}

async function isStale(path: string, holder: LockHolder | undefined, staleMs: number): Promise<boolean> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch {
    return false; // gone already: the next open will tell
  }
  if (holder && holder.host === hostname()) {
    if (holder.pid === process.pid) return false;
    return !processAlive(holder.pid);
  }
  return Date.now() - mtimeMs > staleMs;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
