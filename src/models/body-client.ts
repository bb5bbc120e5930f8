import './wasm-tier.js';
import net from 'node:net';
import tls from 'node:tls';
import { finished } from 'node:stream/promises';
import { request, type Dispatcher } from 'undici';
import { ChunkedDecoder, MAX_HEAD_BYTES, ProtocolError, bodyFraming, keepsAlive, parseResponseHead, type Framing, type ResponseHead } from './http1.js';
import { isTransientNetworkError, STALL_CODE } from './network-errors.js';
import { proxyFromEnv } from './dispatcher.js';

/**
 * The client that fetches blob bodies (transfer.ts): GET requests whose body goes straight to a
 * file. Bodies are handed to a synchronous sink in runs of up to about a MiB; a run's buffers are
 * valid only during the call, so the sink writes them before it returns.
 *
 * Direct connections read each response into one buffer per connection, reused for the whole
 * download: the socket's `onread` fills the free end of that buffer in place, and a full buffer is
 * written to the file in one call. A general HTTP client (undici, node:http) allocates a fresh
 * 64 KiB buffer for every read instead; at gigabytes per minute those are a stream of new memory
 * that the kernel has to fault in and the garbage collector to free, and they cost more CPU than
 * the copy itself (two to three times the CPU seconds of this path, measured on 2 GiB).
 * Behind a proxy (HTTPS_PROXY, HTTP_PROXY) bodies go through undici's proxy agent, like every
 * other request.
 */
export type BodySink = (pieces: readonly Buffer[], bytes: number) => void;

export interface BodyResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /**
   * Hand the body to `sink` as it arrives; resolves once the body has ended. When the transfer
   * fails halfway, the bytes received before the failure are handed over before it rejects.
   */
  receive(sink: BodySink): Promise<void>;
  /** The body is not wanted: the connection is closed (or drained) instead. */
  discard(): Promise<void>;
}

export interface BodyClient {
  get(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<BodyResponse>;
  /** Close the idle connections. */
  close(): Promise<void>;
}

/** Direct connections, unless a proxy is configured: then `dispatcher`, which knows it. */
export function createBodyClient(env: NodeJS.ProcessEnv, stallTimeoutMs: number, secureContext: () => tls.SecureContext | undefined, dispatcher: Dispatcher): BodyClient {
  return proxyFromEnv(env) ? new UndiciBodyClient(dispatcher) : new DirectBodyClient(stallTimeoutMs, secureContext);
}

/** Bytes gathered before one write to the file. */
const RUN_BYTES = 1024 * 1024;

class UndiciBodyClient implements BodyClient {
  constructor(private readonly dispatcher: Dispatcher) {}

  async get(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<BodyResponse> {
    const res = await request(url, { method: 'GET', headers, dispatcher: this.dispatcher, signal });
    return {
      statusCode: res.statusCode,
      headers: res.headers,
      async receive(sink) {
        // undici's buffers are fresh for every read, so they can be kept until a run is full.
        let run: Buffer[] = [];
        let bytes = 0;
        const flush = (): void => {
          if (bytes === 0) return;
          const pieces = run;
          const n = bytes;
          run = [];
          bytes = 0;
          sink(pieces, n);
        };
        res.body.on('data', (buf: Buffer) => {
          run.push(buf);
          bytes += buf.length;
          if (bytes < RUN_BYTES) return;
          try {
            flush();
          } catch (err) {
            res.body.destroy(err as Error);
          }
        });
        try {
          await finished(res.body);
        } finally {
          flush();
        }
      },
      async discard() {
        await res.body.dump().catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    // The dispatcher belongs to the caller, which closes it.
  }
}

/** How long an idle kept-alive connection waits for the next request (servers commonly allow 5 s). */
const IDLE_MS = 4000;

class DirectBodyClient implements BodyClient {
  private readonly idle = new Map<string, Connection[]>();

  constructor(
    private readonly stallTimeoutMs: number,
    private readonly secureContext: () => tls.SecureContext | undefined,
  ) {}

  async get(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<BodyResponse> {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ProtocolError(`cannot download from a ${u.protocol} URL`);
    const key = `${u.protocol}//${u.host}`;
    const text = requestText(u, headers);
    for (let fresh = false; ; fresh = true) {
      signal.throwIfAborted();
      const reused = fresh ? undefined : this.takeIdle(key);
      const conn = reused ?? new Connection(u, this.stallTimeoutMs, this.secureContext, (c) => this.putIdle(key, c));
      try {
        return await conn.exchange(text, signal);
      } catch (err) {
        // A kept-alive connection that the server closed meanwhile: once more on a new one.
        if (reused && !conn.answered && !signal.aborted && isTransientNetworkError(err)) continue;
        throw err;
      }
    }
  }

  async close(): Promise<void> {
    for (const conns of this.idle.values()) for (const c of conns) c.destroy();
    this.idle.clear();
  }

  private takeIdle(key: string): Connection | undefined {
    const conns = this.idle.get(key);
    while (conns && conns.length > 0) {
      const c = conns.pop()!;
      if (c.usable) return c;
    }
    return undefined;
  }

  private putIdle(key: string, c: Connection): void {
    const conns = this.idle.get(key) ?? [];
    this.idle.set(
      key,
      conns.filter((other) => other.usable),
    );
    this.idle.get(key)!.push(c);
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function requestText(u: URL, headers: Record<string, string>): string {
  const names = new Set(Object.keys(headers).map((k) => k.toLowerCase()));
  let text = `GET ${u.pathname}${u.search} HTTP/1.1\r\n`;
  if (!names.has('host')) text += `host: ${u.host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    // A header value is never allowed to end the line early (request splitting).
    if (!TOKEN.test(name) || /[\r\n\0]/.test(value)) throw new ProtocolError(`invalid request header ${JSON.stringify(name)}`);
    text += `${name}: ${value}\r\n`;
  }
  return `${text}\r\n`;
}

/** Per connection: the buffer reads land in (and MIN_FREE more). A full one is one write of about a MiB. */
const BUFFER_BYTES = 1024 * 1024;
/** Once less than this is free, the body bytes in the buffer are handed over, and it starts again. */
const MIN_FREE = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

function stallError(ms: number): Error {
  return Object.assign(new Error(`no data received for ${Math.round(ms / 1000)} s`), { code: STALL_CODE });
}

function closedError(what: string): Error {
  return Object.assign(new Error(`the server closed the connection ${what}`), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/** One request and its response on a connection. */
interface Exchange {
  phase: 'head' | 'body' | 'done';
  signal: AbortSignal;
  onAbort: () => void;
  resolveHead: (res: BodyResponse) => void;
  rejectHead: (err: unknown) => void;
  head?: ResponseHead;
  framing?: Framing;
  keepAlive: boolean;
  /** Body bytes still to come under Content-Length. */
  remaining: number;
  chunked?: ChunkedDecoder;
  /** The body has ended (all its bytes are in the buffer or were handed over). */
  complete: boolean;
  error?: unknown;
  sink?: BodySink;
  resolveBody?: () => void;
  rejectBody?: (err: unknown) => void;
}

class Connection {
  private readonly socket: net.Socket;
  private readonly buffer = Buffer.allocUnsafe(BUFFER_BYTES + MIN_FREE);
  /** Bytes of `buffer` in use: a head being read, then body bytes not yet handed over. */
  private filled = 0;
  /** Where the body bytes not yet handed over start. */
  private bodyFrom = 0;
  private x: Exchange | undefined;
  /** A byte of the current response arrived (a failure before that may be a stale kept-alive connection). */
  answered = false;

  constructor(
    u: URL,
    private readonly stallTimeoutMs: number,
    secureContext: () => tls.SecureContext | undefined,
    private readonly release: (c: Connection) => void,
  ) {
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    // Every read gets at least MIN_FREE bytes of room: a read into no room at all would look like
    // the end of the stream. Past BUFFER_BYTES only while paused, before the body is received.
    const onread = { buffer: () => this.buffer.subarray(this.filled, Math.max(BUFFER_BYTES, this.filled + MIN_FREE)), callback: (n: number, buf: Uint8Array) => this.onRead(n, buf) };
    if (u.protocol === 'https:') {
      const context = secureContext();
      // Node's types leave out `onread`, which tls.connect honours on a socket it creates.
      const options: tls.ConnectionOptions & { onread: net.OnReadOpts } = {
        host,
        port: Number(u.port) || 443,
        ...(net.isIP(host) ? {} : { servername: host }),
        ...(context ? { secureContext: context } : {}),
        ALPNProtocols: ['http/1.1'],
        onread,
      };
      this.socket = tls.connect(options);
    } else {
      this.socket = net.connect({ host, port: Number(u.port) || 80, onread });
    }
    this.socket.setNoDelay(true);
    this.socket.setTimeout(stallTimeoutMs, () => {
      if (this.socket.connecting) this.fail(Object.assign(new Error(`connecting to ${u.host} timed out`), { code: 'ETIMEDOUT', syscall: 'connect' }));
      else if (this.x) this.fail(stallError(this.stallTimeoutMs));
      else this.destroy();
    });
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('end', () => this.onEnd());
    this.socket.on('close', () => this.fail(closedError(this.answered ? 'in the middle of the response' : 'before answering')));
  }

  get usable(): boolean {
    return !this.socket.destroyed && this.x === undefined;
  }

  destroy(): void {
    this.socket.destroy();
  }

  exchange(text: string, signal: AbortSignal): Promise<BodyResponse> {
    return new Promise<BodyResponse>((resolve, reject) => {
      const x: Exchange = {
        phase: 'head',
        signal,
        onAbort: () => this.fail(signal.reason, x),
        resolveHead: resolve,
        rejectHead: reject,
        keepAlive: false,
        remaining: 0,
        complete: false,
      };
      this.x = x;
      this.answered = false;
      this.filled = 0;
      this.bodyFrom = 0;
      signal.addEventListener('abort', x.onAbort, { once: true });
      this.socket.ref();
      this.socket.setTimeout(this.stallTimeoutMs);
      this.socket.write(text, 'latin1');
      this.socket.resume();
    });
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    // Reads land at the free end of the buffer; one handed out before the buffer was last
    // emptied outside a read lands further on, and is moved down.
    const at = buf.byteOffset - this.buffer.byteOffset;
    if (at !== this.filled) this.buffer.copyWithin(this.filled, at, at + n);
    const from = this.filled;
    this.filled += n;
    const x = this.x;
    if (!x || x.phase === 'done') {
      // Bytes nobody asked for: this connection cannot be trusted with another request.
      this.destroy();
      return false;
    }
    this.answered = true;
    try {
      if (x.phase === 'head') {
        if (!this.readHead(x, from)) return true;
      } else {
        const received = this.filled;
        this.filled = from;
        this.takeBody(x, received);
      }
      return this.pump(x);
    } catch (err) {
      this.fail(err, x);
      return false;
    }
  }

  /** Look for the end of the head; once found, parse it and take the body bytes after it. */
  private readHead(x: Exchange, from: number): boolean {
    for (;;) {
      const end = this.buffer.subarray(0, this.filled).indexOf(HEAD_END, Math.max(0, from - 3));
      if (end === -1) {
        if (this.filled > MAX_HEAD_BYTES) throw new ProtocolError(`response head larger than ${MAX_HEAD_BYTES / 1024} KiB`);
        return false;
      }
      const head = parseResponseHead(this.buffer.toString('latin1', 0, end));
      const bodyStart = end + 4;
      if (head.status >= 100 && head.status < 200) {
        if (head.status === 101) throw new ProtocolError('the server switched protocols (101)');
        // An interim response (100 Continue, 103 Early Hints): the real one follows.
        this.buffer.copyWithin(0, bodyStart, this.filled);
        this.filled -= bodyStart;
        from = 0;
        continue;
      }
      const framing = bodyFraming(head);
      x.head = head;
      x.framing = framing;
      x.keepAlive = keepsAlive(head, framing);
      x.remaining = framing.kind === 'length' ? framing.length : 0;
      if (framing.kind === 'chunked') x.chunked = new ChunkedDecoder();
      x.phase = 'body';
      x.complete = framing.kind === 'none' || (framing.kind === 'length' && framing.length === 0);
      this.bodyFrom = bodyStart;
      const received = this.filled;
      this.filled = bodyStart;
      this.takeBody(x, received);
      x.resolveHead(this.response(x));
      return true;
    }
  }

  /** Account for the raw bytes from `filled` to `received`; after it, `[bodyFrom, filled)` is body. */
  private takeBody(x: Exchange, received: number): void {
    const from = this.filled;
    const framing = x.framing!;
    if (framing.kind === 'close') {
      this.filled = received;
    } else if (framing.kind === 'length') {
      const n = Math.min(received - from, x.remaining);
      x.remaining -= n;
      this.filled = from + n;
      if (received - from > n) x.keepAlive = false;
      if (x.remaining === 0) x.complete = true;
    } else if (framing.kind === 'chunked') {
      const r = x.chunked!.decode(this.buffer, from, received, from);
      this.filled = r.out;
      if (r.read < received) x.keepAlive = false;
      if (x.chunked!.done) x.complete = true;
    } else if (received > from) {
      x.keepAlive = false;
    }
  }

  /** After bytes arrived: hand them over when the body ended or the buffer is nearly full. Returns whether to keep reading. */
  private pump(x: Exchange): boolean {
    if (!x.sink) return false; // wait for receive() or discard()
    if (x.complete) {
      this.finish(x);
      return true;
    }
    if (BUFFER_BYTES - this.filled < MIN_FREE) this.handOver(x);
    return true;
  }

  private handOver(x: Exchange): void {
    const bytes = this.filled - this.bodyFrom;
    const from = this.bodyFrom;
    this.filled = 0;
    this.bodyFrom = 0;
    if (bytes > 0) x.sink!([this.buffer.subarray(from, from + bytes)], bytes);
  }

  private finish(x: Exchange): void {
    this.handOver(x);
    x.phase = 'done';
    x.signal.removeEventListener('abort', x.onAbort);
    this.x = undefined;
    if (x.keepAlive && !this.socket.destroyed) {
      this.socket.setTimeout(IDLE_MS);
      this.socket.unref();
      this.release(this);
    } else {
      this.destroy();
    }
    x.resolveBody!();
  }

  private onEnd(): void {
    const x = this.x;
    if (x && x.phase === 'body' && x.framing?.kind === 'close') {
      x.complete = true;
      if (x.sink) this.finish(x);
      return;
    }
    this.fail(closedError(this.answered ? 'in the middle of the response' : 'before answering'));
  }

  /** End the exchange in flight (or `only` that one) with `err`; the connection is not used again. */
  private fail(err: unknown, only?: Exchange): void {
    const x = this.x;
    if (only && only !== x) return;
    this.socket.destroy();
    if (!x) return;
    this.x = undefined;
    x.signal.removeEventListener('abort', x.onAbort);
    if (x.phase === 'head') {
      x.phase = 'done';
      x.rejectHead(err);
      return;
    }
    if (x.phase === 'done') return;
    x.error = err;
    if (x.sink) this.settleFailed(x);
  }

  /** A body that failed: what arrived before the failure is handed over, then the error. */
  private settleFailed(x: Exchange): void {
    x.phase = 'done';
    try {
      this.handOver(x);
    } catch (sinkErr) {
      x.rejectBody!(sinkErr);
      return;
    }
    x.rejectBody!(x.error);
  }

  private response(x: Exchange): BodyResponse {
    const head = x.head!;
    return {
      statusCode: head.status,
      headers: head.headers,
      receive: (sink) =>
        new Promise<void>((resolve, reject) => {
          if (x.sink) throw new Error('the body is already being received');
          x.sink = sink;
          x.resolveBody = resolve;
          x.rejectBody = reject;
          if (x.error !== undefined) {
            this.settleFailed(x);
            return;
          }
          try {
            if (x.complete) this.finish(x);
            else if (BUFFER_BYTES - this.filled < MIN_FREE) this.handOver(x);
          } catch (err) {
            this.fail(err, x);
            return;
          }
          if (!x.complete) this.socket.resume();
        }),
      discard: async () => {
        if (x.phase === 'done') return;
        x.phase = 'done';
        x.signal.removeEventListener('abort', x.onAbort);
        if (this.x === x) this.x = undefined;
        this.destroy();
      },
    };
  }
}
