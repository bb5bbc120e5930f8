import { availableParallelism } from 'node:os';

/** Knobs of the transfer; every one has an operator-facing env override (docs/models.md). */
export interface TransferTuning {
  /** Files downloaded at once. */
  concurrentFiles: number;
  /** Most parallel byte ranges per large file (it starts with two, see `planConnections`). */
  connectionsPerFile: number;
  /** Size of one byte range. Files no larger than this are fetched in one stream. */
  chunkSize: number;
  /** A request that receives no byte for this long is dropped and retried. */
  stallTimeoutMs: number;
  /** Attempts per request after the first; the count starts again whenever bytes arrive. */
  retries: number;
  /** First backoff delay; doubles per attempt with jitter, capped at 30 s. */
  retryBaseMs: number;
  /** Longest Retry-After msting waits for before giving up with the hub's answer. */
  maxRetryAfterMs: number;
  /** How parallel downloads are hashed: following the written prefix, or one pass at the end. */
  hashMode: 'inorder' | 'after';
}

/**
 * Hashing on a worker thread alongside the transfer needs a second core: with two, the bench on
 * an idle machine measured it 20-40% faster than one pass at the end, and lighter on memory
 * (bench/download.mjs prints both). Only a single core is better served by the pass at the end.
 */
export function defaultHashMode(cores = availableParallelism()): TransferTuning['hashMode'] {
  return cores >= 2 ? 'inorder' : 'after';
}

export const DEFAULT_TUNING: TransferTuning = {
  concurrentFiles: 4,
  connectionsPerFile: 8,
  chunkSize: 64 * 1024 * 1024,
  stallTimeoutMs: 30_000,
  retries: 5,
  retryBaseMs: 1_000,
  maxRetryAfterMs: 300_000,
  hashMode: defaultHashMode(),
};

function positive(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Tuning from the environment (MSTING_DOWNLOAD_*), falling back to the defaults. */
export function tuningFromEnv(env: NodeJS.ProcessEnv, base: TransferTuning = DEFAULT_TUNING): TransferTuning {
  const chunkMb = positive(env.MSTING_DOWNLOAD_CHUNK_MB);
  const retries = env.MSTING_DOWNLOAD_RETRIES !== undefined && /^\d+$/.test(env.MSTING_DOWNLOAD_RETRIES) ? Number(env.MSTING_DOWNLOAD_RETRIES) : undefined;
  const hash = env.MSTING_DOWNLOAD_HASH;
  return {
    concurrentFiles: Math.floor(positive(env.MSTING_DOWNLOAD_FILES) ?? base.concurrentFiles),
    connectionsPerFile: Math.floor(positive(env.MSTING_DOWNLOAD_CONNECTIONS) ?? base.connectionsPerFile),
    chunkSize: chunkMb !== undefined ? Math.max(1, Math.floor(chunkMb * 1024 * 1024)) : base.chunkSize,
    stallTimeoutMs: positive(env.MSTING_DOWNLOAD_STALL_MS) ?? base.stallTimeoutMs,
    retries: retries ?? base.retries,
    retryBaseMs: positive(env.MSTING_DOWNLOAD_RETRY_BASE_MS) ?? base.retryBaseMs,
    maxRetryAfterMs: base.maxRetryAfterMs,
    hashMode: hash === 'after' || hash === 'inorder' ? hash : base.hashMode,
  };
}
