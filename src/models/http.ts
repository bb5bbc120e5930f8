import { availableParallelism } from 'node:os';
import type { SecureContext } from 'node:tls';
import type { buildConnector as Connectors } from 'undici';
import { Agent, EnvHttpProxyAgent, buildConnector, type Dispatcher } from './undici.js';
import { lazySecureContext, type TrustStore } from './trust.js';

/** Connections a parallel transfer opens first; `planConnections` decides whether more follow. */
export const FIRST_CONNECTIONS = 2;

/**
 * A connection at least this fast (128 MiB/s, about 1 Gbit/s) is left alone with its sibling:
 * two such already carry more than most links, and each further connection costs CPU (more
 * sockets, ranges finishing out of order for the hash to wait on) that a fast link needs for the
 * copy and the hash.
 */
export const FAST_CONNECTION_BYTES_PER_SECOND = 128 * 1024 * 1024;

/** The last time connections were added: how many were open before, and what they brought together. */
export interface RampStep {
  open: number;
  bytesPerSecond: number;
}

/**
 * More connections must bring at least this much more (25 %), or the limit is not per
 * connection: it is the CPU (TLS, the copy and the hash on a small machine) or the link, and
 * further connections would only cost CPU and memory.
 */
export const RAMP_GAIN = 1.25;

/**
 * How many connections a parallel transfer should have open, given how many are open, the bytes
 * per second they received together over the last interval, and the last step that added
 * connections. CDNs hold each connection to a rate well below what the link carries, so while the
 * connections are slow their number doubles, up to `max`, as long as the last doubling paid off;
 * once each is fast, or once doubling brought no gain, it stays. It never shrinks: a range once
 * started runs to its end.
 */
export function planConnections(open: number, max: number, bytesPerSecond: number, last?: RampStep): number {
  if (open >= max) return open;
  if (bytesPerSecond / open >= FAST_CONNECTION_BYTES_PER_SECOND) return open;
  if (last && last.open < open && bytesPerSecond < last.bytesPerSecond * RAMP_GAIN) return open;
  return Math.min(max, open * 2);
}

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

/**
 * One connection pool for a run: the hub API, and the blob bodies behind a proxy (body-client.ts
 * fetches them itself on direct connections). Node 20's fetch ignores HTTPS_PROXY, so the proxy variables
 * are read here and handed to undici's EnvHttpProxyAgent (which also honours NO_PROXY).
 * Undici's own timeouts double as the stall detector: no header or body byte for
 * `stallTimeoutMs` ends the request with a timeout error, which the caller retries.
 * TLS connections trust `trust`'s certificates beside Node's (trust.ts); the context holding
 * them is built on the first TLS connection, so plain-HTTP runs never pay for it.
 */
export function createDispatcher(env: NodeJS.ProcessEnv, stallTimeoutMs: number, trust: TrustStore): Dispatcher {
  const connectTimeout = Math.min(stallTimeoutMs, 30_000);
  const timeouts = { headersTimeout: stallTimeoutMs, bodyTimeout: stallTimeoutMs, connectTimeout };
  const secureContext = lazySecureContext(env, trust);
  const { httpsProxy, httpProxy } = proxyFromEnv(env) ?? {};
  if (httpsProxy || httpProxy) {
    const noProxy = env.NO_PROXY ?? env.no_proxy;
    // Tunnels take their TLS options as objects, read when the agent is made.
    const context = secureContext();
    const tlsOptions = context ? { requestTls: { secureContext: context }, proxyTls: { secureContext: context } } : {};
    return new EnvHttpProxyAgent({
      ...timeouts,
      ...tlsOptions,
      connect: trustingConnector(connectTimeout, secureContext),
      ...(httpProxy ? { httpProxy } : {}),
      ...(httpsProxy ? { httpsProxy } : {}),
      ...(noProxy !== undefined ? { noProxy } : {}),
    });
  }
  return new Agent({ ...timeouts, connect: trustingConnector(connectTimeout, secureContext) });
}

/** The proxies the environment names (HTTPS_PROXY, HTTP_PROXY, either case); undefined when none. */
export function proxyFromEnv(env: NodeJS.ProcessEnv): { httpsProxy?: string; httpProxy?: string } | undefined {
  const httpsProxy = env.HTTPS_PROXY || env.https_proxy || undefined;
  const httpProxy = env.HTTP_PROXY || env.http_proxy || undefined;
  if (!httpsProxy && !httpProxy) return undefined;
  return { ...(httpsProxy ? { httpsProxy } : {}), ...(httpProxy ? { httpProxy } : {}) };
}

/** undici's connector, with the trusted context for TLS connections once one is needed. */
function trustingConnector(timeout: number, secureContext: () => SecureContext | undefined): Connectors.connector {
  const plain = buildConnector({ timeout });
  let secure: Connectors.connector | undefined;
  return (options, callback) => {
    if (options.protocol === 'https:') {
      const context = secureContext();
      if (context) {
        secure ??= buildConnector({ timeout, secureContext: context });
        return secure(options, callback);
      }
    }
    return plain(options, callback);
  };
}

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

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : abortError());
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortError(): Error {
  const err = new Error('interrupted');
  err.name = 'AbortError';
  return err;
}

export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** `W/"abc"` → `abc`, as huggingface_hub normalizes ETags. */
export function normalizeEtag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/** Errors worth another attempt: dropped, reset or timed-out connections. */
export function isTransientNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code ?? '';
  return (
    [
      'ECONNRESET',
      'ECONNREFUSED',
      'EPIPE',
      'ETIMEDOUT',
      'EAI_AGAIN',
      'ENETUNREACH',
      'EHOSTUNREACH',
      'UND_ERR_SOCKET',
      'UND_ERR_CONNECT_TIMEOUT',
      'UND_ERR_HEADERS_TIMEOUT',
      'UND_ERR_BODY_TIMEOUT',
      'UND_ERR_CLOSED',
      'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
      'ERR_STREAM_PREMATURE_CLOSE',
      STALL_CODE,
      'MSTING_HTTP_PROTOCOL',
    ].includes(code) || err.name === 'TransientError'
  );
}

/**
 * The connection could not be opened at all: the name did not resolve, or the host refused, was
 * unreachable, or never answered the connect. What a firewall that blocks a host looks like.
 */
export function isConnectFailure(err: unknown): boolean {
  const e = err as { code?: string; syscall?: string } | undefined;
  if (e?.syscall === 'getaddrinfo' || e?.syscall === 'connect') return true;
  return ['ENOTFOUND', 'EAI_FAIL', 'EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'].includes(e?.code ?? '');
}

/** Marks a failure that another attempt may fix (short body, 5xx, 429). */
export class TransientError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'TransientError';
    this.retryAfterMs = retryAfterMs;
  }
}

/** The code of the error a direct body connection ends with when no byte arrived for the stall timeout. */
export const STALL_CODE = 'MSTING_STALL';

export function isStall(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === STALL_CODE || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT';
}
