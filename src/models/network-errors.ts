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
