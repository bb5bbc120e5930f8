import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeSync, writevSync } from 'node:fs';
import type { BodyClient } from './body-client.js';
import { MstingError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { bootId } from './boot.js';
import { hashFile, hashRange, newHash, startPrefixHasher, type HashAlgorithm } from './hashing.js';
import { isStall, isTransientNetworkError, TransientError } from './network-errors.js';
import { FIRST_CONNECTIONS, planConnections, type RampStep } from './connections.js';
import { backoffDelay, parseRetryAfter } from './retry.js';
import { headerValue, normalizeEtag } from './headers.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TransferTuning } from './tuning.js';

/**
 * The resumable transfer of one blob. Bytes go into `<blob>.incomplete`, preallocated to the
 * full size and written in place at their offsets by up to `connectionsPerFile` ranged requests.
 * A sidecar `<blob>.incomplete.json` records the storage ETag and the bytes completed in each
 * range, twice: `progress` (written, rewritten ten times a second; valid while the machine has
 * not rebooted, since the page cache survives a killed process) and `synced` (covered by an
 * fdatasync, every few seconds; what a run after a reboot resumes from). Forcing every byte to
 * disk as it arrives would tie the download to the disk's sync speed for no gain: the digest
 * check catches anything a crash could tear. The blob is renamed into place only after its
 * digest matches.
 */
export interface BlobTransfer {
  /** File name for messages. */
  label: string;
  url: string;
  /** Request headers; the caller decides whether the token belongs to this origin. */
  headers: Record<string, string>;
  size: number;
  algorithm: HashAlgorithm;
  expected: string;
  incomplete: string;
  sidecar: string;
  dest: string;
  client: BodyClient;
  signal: AbortSignal;
  tuning: TransferTuning;
  /** Bytes already on disk when the transfer starts (resume). */
  onStart?: (alreadyHave: number) => void;
  /** New bytes written. */
  onBytes: (n: number) => void;
  onRetry?: (info: RetryInfo) => void;
  /** The partial file was thrown away (the server ignored Range, or the content's ETag changed). */
  onRestart?: (reason: string) => void;
  /** Turns an HTTP error answer into the hub adapter's error. */
  httpError: (status: number, headers: Record<string, string | string[] | undefined>) => MstingError;
  /**
   * Turns a connection failure into the hub adapter's error, or undefined to leave it be: asked
   * at once for one no retry can fix (a certificate the machine does not trust, a name that does
   * not resolve), and for the last one when the retries are spent.
   */
  networkError?: (err: unknown) => MstingError | undefined;
}

export interface RetryInfo {
  file: string;
  range: string;
  attempt: number;
  delayMs: number;
  reason: string;
  stalled: boolean;
}

export interface TransferResult {
  /** Bytes received over the network in this run. */
  fetched: number;
  /** Bytes that were already on disk and were kept. */
  resumedFrom: number;
  digest: string;
}

/** The content did not hash to what the hub published; the partial is deleted. */
export class IntegrityMismatch extends Error {
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${file}: expected ${expected}, got ${actual}`);
    this.name = 'IntegrityMismatch';
  }
}

interface Sidecar {
  version: 1;
  size: number;
  etag: string | null;
  chunkSize: number;
  /** Bytes written per range (trustworthy in the same boot). */
  progress: number[];
  /** Bytes per range known to be on disk (after fdatasync). */
  synced: number[];
  boot: string;
}

const RECORD_EVERY_MS = 100;
/** How often a parallel transfer weighs opening more connections. */
const RAMP_EVERY_MS = 500;
const SYNC_EVERY_MS = 5000;

class Restart extends Error {
  constructor(
    readonly reason: 'range-ignored' | 'etag-changed',
    readonly etag?: string,
  ) {
    super(reason);
  }
}

/** Files from this size on are hashed on a worker thread even when fetched in one stream. */
const WORKER_HASH_FROM = 32 * 1024 * 1024;

/** Write `bytes` from `buffers` at `position`, however many writev calls that takes. */
function writeAllSync(fd: number, buffers: readonly Buffer[], position: number, bytes: number): void {
  let done = writevSync(fd, buffers, position);
  while (done < bytes) {
    // A short write (rare: a signal, a nearly full disk); write the rest from where it stopped.
    const rest = Buffer.concat(buffers).subarray(done);
    done += writeSync(fd, rest, 0, rest.length, position + done);
  }
}

/** The first `bytes` bytes of `pieces`. */
function firstBytes(pieces: readonly Buffer[], bytes: number): Buffer[] {
  const out: Buffer[] = [];
  for (const p of pieces) {
    if (bytes <= 0) break;
    out.push(p.length <= bytes ? p : p.subarray(0, bytes));
    bytes -= p.length;
  }
  return out;
}

function chunkCount(size: number, chunkSize: number): number {
  return size === 0 ? 0 : Math.ceil(size / chunkSize);
}

/** Read a usable resume record, or build one from a prefix-only partial (as huggingface_hub leaves). */
async function loadSidecar(t: BlobTransfer): Promise<Sidecar | undefined> {
  let partialSize: number;
  try {
    partialSize = (await stat(t.incomplete)).size;
  } catch {
    return undefined;
  }
  try {
    const s = JSON.parse(await readFile(t.sidecar, 'utf8')) as Sidecar;
    const n = chunkCount(t.size, s.chunkSize);
    const counts = (a: unknown): a is number[] =>
      Array.isArray(a) && a.length === n && a.every((p, i) => Number.isSafeInteger(p) && p >= 0 && p <= chunkLength(t.size, s.chunkSize, i));
    const valid = s.version === 1 && s.size === t.size && partialSize === t.size && Number.isSafeInteger(s.chunkSize) && s.chunkSize > 0 && counts(s.progress) && counts(s.synced);
    if (!valid) return undefined;
    // After a reboot only what was synced is certain to be on disk.
    const progress = s.boot === bootId() ? s.progress : s.synced;
    return { ...s, progress: progress.slice(), synced: s.synced.slice(), boot: bootId() };
  } catch {
    // No sidecar: a sequential partial written from byte 0 (ours with no record yet, or another tool's).
    if (partialSize === 0 || partialSize > t.size) return undefined;
    const chunkSize = t.tuning.chunkSize;
    const progress = Array.from({ length: chunkCount(t.size, chunkSize) }, (_, i) => Math.max(0, Math.min(chunkLength(t.size, chunkSize, i), partialSize - i * chunkSize)));
    return { version: 1, size: t.size, etag: null, chunkSize, progress, synced: progress.slice(), boot: bootId() };
  }
}

function chunkLength(size: number, chunkSize: number, i: number): number {
  return Math.min(size, (i + 1) * chunkSize) - i * chunkSize;
}

export async function transferBlob(t: BlobTransfer): Promise<TransferResult> {
  let sidecar = await loadSidecar(t);
  let handle: FileHandle;
  if (sidecar) {
    handle = await open(t.incomplete, 'r+');
    await handle.truncate(t.size);
  } else {
    await mkdir(dirname(t.incomplete), { recursive: true });
    handle = await open(t.incomplete, 'w', 0o644);
    await handle.truncate(t.size);
    const zeros = Array.from({ length: chunkCount(t.size, t.tuning.chunkSize) }, () => 0);
    sidecar = { version: 1, size: t.size, etag: null, chunkSize: t.tuning.chunkSize, progress: zeros, synced: zeros.slice(), boot: bootId() };
  }
  const state = sidecar;
  const resumedFrom = state.progress.reduce((a, b) => a + b, 0);
  t.onStart?.(resumedFrom);
  let fetched = 0;
  let completed = false;

  // Progress records: often without forcing data to disk, and now and then after an fdatasync.
  // The two run independently, so a slow disk sync never holds back the frequent record.
  let lastRecord = Date.now();
  let lastSync = Date.now();
  let recording: Promise<void> | undefined;
  let syncing: Promise<void> | undefined;
  const snapshot = (): string => JSON.stringify({ ...state, progress: state.progress.slice(), synced: state.synced.slice() });
  // The frequent record: temp file + rename, without fsync. It is atomic, and its only job is to
  // survive the death of this process, which the page cache guarantees; for a power loss the
  // `synced` counts (written after an fdatasync, and fsync'd by writeFileAtomic) are what count.
  // Both may run at once: every version of the file is true on its own.
  const tmp = `${t.sidecar}.${process.pid}.tmp`;
  const record = async (): Promise<void> => {
    try {
      await writeFile(tmp, snapshot(), { mode: 0o644 });
      await rename(tmp, t.sidecar);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
  };
  const syncData = async (): Promise<void> => {
    const covered = state.progress.slice();
    await handle.datasync();
    state.synced = covered;
    await writeFileAtomic(t.sidecar, snapshot());
  };
  const settle = async (): Promise<void> => {
    await Promise.all([recording, syncing]);
  };
  const flushNow = async (sync: boolean): Promise<void> => {
    await settle();
    if (sync) await syncData();
    else await record();
  };
  const maybeFlush = (): void => {
    const now = Date.now();
    if (!syncing && now - lastSync >= SYNC_EVERY_MS) {
      lastSync = now;
      syncing = syncData()
        .catch(() => undefined)
        .finally(() => {
          syncing = undefined;
        });
    }
    if (!recording && now - lastRecord >= RECORD_EVERY_MS) {
      lastRecord = now;
      // A record that cannot be written (a disk that just filled up) leaves the last one in place,
      // still true; the data write that fails next reports the disk.
      recording = record()
        .catch(() => undefined)
        .finally(() => {
          recording = undefined;
        });
    }
  };
  await flushNow(false);

  try {
    for (let restarts = 0; ; restarts++) {
      try {
        const digest = await runChunks();
        completed = true;
        await settle();
        await handle.close();
        if (digest !== t.expected) {
          await rm(t.incomplete, { force: true });
          await rm(t.sidecar, { force: true });
          throw new IntegrityMismatch(t.label, t.expected, digest);
        }
        await rename(t.incomplete, t.dest);
        await rm(t.sidecar, { force: true });
        return { fetched, resumedFrom, digest };
      } catch (err) {
        if (!(err instanceof Restart) || restarts >= 3) throw err;
        t.onRestart?.(err.reason === 'range-ignored' ? 'the server ignored the byte range; starting this file over' : 'the file changed on the server (new ETag); starting it over');
        await settle();
        if (err.reason === 'range-ignored') state.chunkSize = Math.max(1, t.size);
        state.progress = Array.from({ length: chunkCount(t.size, state.chunkSize) }, () => 0);
        state.synced = state.progress.slice();
        state.etag = err.etag ?? null;
        await flushNow(false);
      }
    }
  } finally {
    if (!completed) {
      await settle().catch(() => undefined);
      // Ctrl-C or a failure: keep what was written for the next run.
      await flushNow(true).catch(() => undefined);
      await handle.close().catch(() => undefined);
    }
  }

  async function runChunks(): Promise<string> {
    const n = state.progress.length;
    const start = (i: number): number => i * state.chunkSize;
    const len = (i: number): number => chunkLength(t.size, state.chunkSize, i);
    const sequential = n <= 1 || Math.min(t.tuning.connectionsPerFile, n) === 1;
    let cursor = 0;
    // A small file read in one stream is hashed on this thread as it is written (a worker costs
    // more to start than such a file to hash). Bytes already on disk (a resumed prefix) are read
    // back when the stream reaches them. Larger files are hashed on a worker (startPrefixHasher).
    const inline = sequential && t.size < WORKER_HASH_FROM ? { hash: newHash(t.algorithm, t.size), at: 0 } : undefined;
    const inlineCatchUp = async (to: number): Promise<void> => {
      if (!inline || inline.at >= to) return;
      const at = await hashRange(handle, inline.hash, inline.at, to);
      if (at < to) throw new Error(`${t.incomplete}: short read at byte ${at}`);
      inline.at = to;
    };
    const hasher = !inline && (sequential || t.tuning.hashMode === 'inorder') ? startPrefixHasher(t.incomplete, t.algorithm, t.size) : undefined;
    function contiguousPrefix(): number {
      while (cursor < n && state.progress[cursor] === len(cursor)) cursor++;
      return cursor >= n ? t.size : start(cursor) + state.progress[cursor]!;
    }
    const pending = state.progress.map((p, i) => (p < len(i) ? i : -1)).filter((i) => i >= 0);
    hasher?.advanceTo(contiguousPrefix());
    const siblings = new AbortController();
    const onAbort = (): void => siblings.abort(t.signal.reason);
    t.signal.addEventListener('abort', onAbort, { once: true });
    const signal = siblings.signal;

    const fetchChunk = async (i: number): Promise<void> => {
      let attempt = 0;
      while (state.progress[i]! < len(i)) {
        const from = start(i) + state.progress[i]!;
        const to = start(i) + len(i) - 1;
        const whole = from === 0 && to === t.size - 1;
        const headers: Record<string, string> = { 'user-agent': 'msting', 'accept-encoding': 'identity', ...t.headers };
        if (!whole) headers.range = `bytes=${from}-${to}`;
        let gotBytes = false;
        try {
          await inlineCatchUp(from);
          const res = await t.client.get(t.url, headers, signal);
          const status = res.statusCode;
          if (status === 200 && !whole) {
            await res.discard();
            throw new Restart('range-ignored');
          }
          if (status !== 200 && status !== 206) {
            await res.discard();
            if (status === 429 || status === 408 || status >= 500) throw new TransientError(`HTTP ${status}`, parseRetryAfter(res.headers['retry-after']));
            throw t.httpError(status, res.headers);
          }
          if (status === 206) {
            const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headerValue(res.headers, 'content-range') ?? '');
            if (!m || Number(m[1]) !== from || (m[3] !== '*' && Number(m[3]) !== t.size)) {
              await res.discard();
              throw new TransientError(`unexpected Content-Range "${headerValue(res.headers, 'content-range') ?? ''}" for bytes ${from}-${to}`);
            }
          }
          const etag = normalizeEtag(headerValue(res.headers, 'etag')) ?? null;
          if (state.etag !== null && etag !== null && etag !== state.etag) {
            await res.discard();
            throw new Restart('etag-changed', etag);
          }
          if (state.etag === null) state.etag = etag;
          // Bytes go to disk as they are handed over, in one positional write per run of about a
          // MiB, on this thread: an async write per run costs a thread-pool hand-off each time,
          // which measured more CPU than the copy itself. A write into the page cache is short; a
          // disk that cannot keep up holds the writer (and so the socket) back either way.
          let pos = from;
          const limit = to + 1;
          await res.receive((pieces, bytes) => {
            const n = Math.min(bytes, limit - pos);
            if (n <= 0) return;
            const parts = n === bytes ? pieces : firstBytes(pieces, n);
            gotBytes = true;
            try {
              writeAllSync(handle.fd, parts, pos, n);
            } catch (err) {
              throw writeFailure(err, t);
            }
            if (inline) {
              for (const b of parts) inline.hash.update(b);
              inline.at = pos + n;
            }
            pos += n;
            state.progress[i]! += n;
            fetched += n;
            t.onBytes(n);
            hasher?.advanceTo(contiguousPrefix());
            maybeFlush();
          });
          if (state.progress[i]! < len(i)) throw new TransientError(`connection closed at byte ${pos} of ${t.size}`);
        } catch (err) {
          if (err instanceof Restart || err instanceof MstingError || signal.aborted) throw err;
          if (!(err instanceof TransientError) && !isTransientNetworkError(err)) throw t.networkError?.(err) ?? err;
          if (gotBytes) attempt = 0;
          const retryAfter = err instanceof TransientError ? err.retryAfterMs : undefined;
          if (attempt >= t.tuning.retries || (retryAfter !== undefined && retryAfter > t.tuning.maxRetryAfterMs)) {
            throw t.networkError?.(err) ?? new MstingError('HUB', `downloading ${t.label} failed after ${attempt + 1} attempts: ${describe(err)}`, {
              hint: 'run the same command again: it resumes from the bytes already on disk',
              cause: err,
            });
          }
          const delayMs = retryAfter ?? backoffDelay(attempt, t.tuning.retryBaseMs);
          attempt++;
          t.onRetry?.({ file: t.label, range: `${start(i) + state.progress[i]!}-${to}`, attempt, delayMs, reason: describe(err), stalled: isStall(err) });
          await sleep(delayMs, undefined, { signal });
        }
      }
    };

    try {
      const most = Math.max(1, Math.min(sequential ? 1 : t.tuning.connectionsPerFile, pending.length));
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < pending.length) {
          const i = pending[next++]!;
          await fetchChunk(i);
        }
      };
      const running: Array<Promise<void>> = [];
      const open = (): void => {
        running.push(
          (async () => {
            try {
              await worker();
            } catch (err) {
              siblings.abort(err);
              throw err;
            }
          })(),
        );
      };
      while (running.length < Math.min(most, FIRST_CONNECTIONS)) open();
      // Every interval, more connections if the open ones are slow and the last ones added paid
      // off (planConnections). The interval in which connections start (handshakes, slow start),
      // the first ones' as well as added ones', is not judged: the first ones would look slower
      // than they are, and any later gain bigger; added ones as if they brought nothing.
      let measuredAt = Date.now();
      let measuredBytes = fetched;
      let last: RampStep | undefined;
      let settling = true;
      const ramp =
        running.length < most
          ? setInterval(() => {
              const now = Date.now();
              const rate = ((fetched - measuredBytes) * 1000) / Math.max(1, now - measuredAt);
              measuredAt = now;
              measuredBytes = fetched;
              if (settling) {
                settling = false;
                return;
              }
              const want = planConnections(running.length, most, rate, last);
              if (want > running.length) {
                last = { open: running.length, bytesPerSecond: rate };
                settling = true;
              }
              while (running.length < want && next < pending.length && !signal.aborted) open();
              if (running.length >= most || next >= pending.length) clearInterval(ramp);
            }, RAMP_EVERY_MS)
          : undefined;
      let results: Array<PromiseSettledResult<void>>;
      try {
        // Connections opened while waiting are waited for too.
        do results = await Promise.allSettled(running);
        while (results.length < running.length);
      } finally {
        clearInterval(ramp);
      }
      const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure) {
        const reasons = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
        // The first real cause, not a sibling's "aborted".
        throw reasons.find((r) => r instanceof Restart || r instanceof MstingError) ?? (t.signal.aborted ? t.signal.reason : failure.reason);
      }
      if (inline) {
        await inlineCatchUp(t.size);
        return inline.hash.digest('hex');
      }
      if (hasher) return await hasher.finish(t.size);
      return await hashFile(t.incomplete, t.algorithm, t.size, t.signal);
    } catch (err) {
      await hasher?.cancel();
      throw err;
    } finally {
      t.signal.removeEventListener('abort', onAbort);
    }
  }
}

/** A write into the partial file that failed, as one error that says what to do; the partial is kept. */
function writeFailure(err: unknown, t: BlobTransfer): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  const resume = 'run the same command again: it resumes from the bytes already on disk';
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new MstingError('IO', `cannot write ${t.label}: ${code === 'ENOSPC' ? 'no space left on the device' : 'disk quota exceeded'} (${t.incomplete})`, {
      hint: `free some space (or set STING_MODELS_DIR to a larger disk), then ${resume}`,
      cause: err,
    });
  }
  if (code === 'EIO' || code === 'EROFS' || code === 'EFBIG') {
    return new MstingError('IO', `cannot write ${t.label} to ${t.incomplete}: ${(err as Error).message}`, {
      hint: `check the disk that holds STING_MODELS_DIR (dmesg shows device errors), then ${resume}`,
      cause: err,
    });
  }
  return err;
}

function describe(err: unknown): string {
  if (isStall(err)) return 'no data received (stalled)';
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code}${e.message ? ` (${e.message})` : ''}` : (e.message ?? String(err));
}
