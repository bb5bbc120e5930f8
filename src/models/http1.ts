/**
 * The parts of an HTTP/1.1 response that a download reads (RFC 9112): the head (status line and
 * header fields) and the framing of the body (Content-Length, chunked, or until the connection
 * closes). Pure functions over bytes already received; body-client.ts feeds them.
 */

export type Headers = Record<string, string | string[]>;

export interface ResponseHead {
  /** 10 for HTTP/1.0, 11 for HTTP/1.1. */
  version: 10 | 11;
  status: number;
  headers: Headers;
}

/** A response msting cannot read: malformed head, bad framing. Another attempt may meet a sane server. */
export class ProtocolError extends Error {
  readonly code = 'MSTING_HTTP_PROTOCOL';
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Longest response head accepted (undici's default is 16 KiB; some CDNs send large cookies). */
export const MAX_HEAD_BYTES = 64 * 1024;

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/;
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parse a response head, given without its final empty line (the text before CRLF CRLF). */
export function parseResponseHead(text: string): ResponseHead {
  const lines = text.split(/\r?\n/);
  const m = STATUS_LINE.exec(lines[0] ?? '');
  if (!m) throw new ProtocolError(`not an HTTP/1.x status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: Headers = {};
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    if (line.startsWith(' ') || line.startsWith('\t')) throw new ProtocolError('obsolete folded header line in the response');
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!FIELD_NAME.test(name)) throw new ProtocolError(`malformed header line in the response: ${JSON.stringify(line.slice(0, 80))}`);
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).trim();
    const seen = headers[key];
    if (seen === undefined) headers[key] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else headers[key] = [seen, value];
  }
  return { version: m[1] === '0' ? 10 : 11, status: Number(m[2]), headers };
}

export type Framing = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

function tokens(value: string | string[] | undefined): string[] {
  const all = Array.isArray(value) ? value.join(',') : (value ?? '');
  return all
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
}

/** How the body of a response to a GET ends (RFC 9112 §6.3). */
export function bodyFraming(head: ResponseHead): Framing {
  if ((head.status >= 100 && head.status < 200) || head.status === 204 || head.status === 304) return { kind: 'none' };
  const coding = tokens(head.headers['transfer-encoding']);
  if (coding.length > 0) {
    if (coding[coding.length - 1] === 'chunked') return { kind: 'chunked' };
    return { kind: 'close' };
  }
  const lengths = head.headers['content-length'];
  if (lengths !== undefined) {
    const values = new Set((Array.isArray(lengths) ? lengths : [lengths]).flatMap((v) => v.split(',')).map((v) => v.trim()));
    const [only] = values;
    if (values.size !== 1 || only === undefined || !/^\d+$/.test(only) || !Number.isSafeInteger(Number(only))) {
      throw new ProtocolError(`invalid Content-Length in the response: ${JSON.stringify(lengths)}`);
    }
    return { kind: 'length', length: Number(only) };
  }
  return { kind: 'close' };
}

/** Whether the connection may carry another request once this response's body is read. */
export function keepsAlive(head: ResponseHead, framing: Framing): boolean {
  if (framing.kind === 'close') return false;
  const connection = tokens(head.headers.connection);
  if (connection.includes('close')) return false;
  return head.version === 11 || connection.includes('keep-alive');
}

const MAX_CHUNK_LINE = 4096;

/**
 * Decodes a chunked body in place: the data bytes of each chunk are moved down over the framing
 * before them, so what a read brought ends up as one contiguous run of body bytes in the same
 * buffer, with no copy when the framing comes last.
 */
export class ChunkedDecoder {
  private state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  private line = '';
  private left = 0;

  get done(): boolean {
    return this.state === 'done';
  }

  /**
   * Decode `buf[from, to)`. Body bytes are written from `out` on (`out <= from`); returns where
   * they end and how far the input was read (less than `to` only when the body ended before it).
   */
  decode(buf: Buffer, from: number, to: number, out: number): { out: number; read: number } {
    let i = from;
    while (i < to && this.state !== 'done') {
      if (this.state === 'data') {
        const n = Math.min(this.left, to - i);
        if (out !== i) buf.copyWithin(out, i, i + n);
        out += n;
        i += n;
        this.left -= n;
        if (this.left === 0) this.state = 'data-end';
        continue;
      }
      const found = buf.subarray(i, to).indexOf(10);
      const end = found === -1 ? to : i + found;
      this.line += buf.toString('latin1', i, end);
      if (this.line.length > MAX_CHUNK_LINE) throw new ProtocolError('chunk header line too long in the response');
      i = found === -1 ? to : end + 1;
      if (found === -1) break;
      const line = this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line;
      this.line = '';
      this.takeLine(line);
    }
    return { out, read: i };
  }

  private takeLine(line: string): void {
    if (this.state === 'size') {
      const size = line.split(';', 1)[0]!.trim();
      if (!/^[0-9a-fA-F]{1,13}$/.test(size)) throw new ProtocolError(`invalid chunk size in the response: ${JSON.stringify(line.slice(0, 40))}`);
      this.left = parseInt(size, 16);
      this.state = this.left === 0 ? 'trailer' : 'data';
    } else if (this.state === 'data-end') {
      if (line !== '') throw new ProtocolError('chunk data longer than its declared size in the response');
      this.state = 'size';
    } else if (line === '') {
      this.state = 'done';
    }
  }
}
