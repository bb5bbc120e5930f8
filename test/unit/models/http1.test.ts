import { describe, expect, it } from 'vitest';
import { ChunkedDecoder, ProtocolError, bodyFraming, keepsAlive, parseResponseHead } from '../../../src/models/http1.js';

describe('parseResponseHead', () => {
  it('reads the status, the version and the fields, lower-cased, repeated fields as arrays', () => {
    const head = parseResponseHead('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/100\r\nETag: "abc"\r\nVia: a\r\nvia: b');
    expect(head).toEqual({ version: 11, status: 206, headers: { 'content-range': 'bytes 0-9/100', etag: '"abc"', via: ['a', 'b'] } });
    expect(parseResponseHead('HTTP/1.0 200\nContent-Length: 3').version).toBe(10);
  });

  it('rejects what is not an HTTP/1.x head', () => {
    expect(() => parseResponseHead('HTTP/2 200 OK')).toThrow(ProtocolError);
    expect(() => parseResponseHead('<html>')).toThrow(/status line/);
    expect(() => parseResponseHead('HTTP/1.1 200 OK\r\nno colon here')).toThrow(/malformed header/);
    expect(() => parseResponseHead('HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded')).toThrow(/folded/);
  });
});

describe('bodyFraming and keepsAlive', () => {
  const head = (status: number, headers: Record<string, string | string[]>, version: 10 | 11 = 11) => ({ version, status, headers });

  it('frames by Transfer-Encoding first, then Content-Length, else until the connection closes', () => {
    expect(bodyFraming(head(200, { 'transfer-encoding': 'chunked', 'content-length': '5' }))).toEqual({ kind: 'chunked' });
    expect(bodyFraming(head(206, { 'content-length': '42' }))).toEqual({ kind: 'length', length: 42 });
    expect(bodyFraming(head(200, { 'content-length': ['7', '7'] }))).toEqual({ kind: 'length', length: 7 });
    expect(bodyFraming(head(200, {}))).toEqual({ kind: 'close' });
    expect(bodyFraming(head(200, { 'transfer-encoding': 'gzip' }))).toEqual({ kind: 'close' });
    expect(bodyFraming(head(204, { 'content-length': '9' }))).toEqual({ kind: 'none' });
    expect(bodyFraming(head(304, {}))).toEqual({ kind: 'none' });
  });

  it('refuses a Content-Length that is not one number', () => {
    expect(() => bodyFraming(head(200, { 'content-length': ['7', '8'] }))).toThrow(/Content-Length/);
    expect(() => bodyFraming(head(200, { 'content-length': '-1' }))).toThrow(ProtocolError);
    expect(() => bodyFraming(head(200, { 'content-length': '99999999999999999999' }))).toThrow(ProtocolError);
  });

  it('keeps HTTP/1.1 connections unless told to close; HTTP/1.0 only when asked to', () => {
    const length = { kind: 'length', length: 1 } as const;
    expect(keepsAlive(head(200, {}), length)).toBe(true);
    expect(keepsAlive(head(200, { connection: 'Close' }), length)).toBe(false);
    expect(keepsAlive(head(200, {}), { kind: 'close' })).toBe(false);
    expect(keepsAlive(head(200, {}, 10), length)).toBe(false);
    expect(keepsAlive(head(200, { connection: 'keep-alive' }, 10), length)).toBe(true);
  });
});

describe('ChunkedDecoder', () => {
  const wire = Buffer.from('5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\nNEXT', 'latin1');
  const body = 'helloabcdefghijklmnopqrstuvwxyz';

  /** Feed `wire` in pieces of `step` bytes, as reads into one buffer, the way body-client does. */
  function decodeInSteps(step: number): { body: string; read: number } {
    const buf = Buffer.alloc(wire.length);
    const d = new ChunkedDecoder();
    let out = 0;
    let filled = 0;
    let read = 0;
    for (let at = 0; at < wire.length && !d.done; at += step) {
      const piece = wire.subarray(at, at + step);
      piece.copy(buf, filled);
      const r = d.decode(buf, filled, filled + piece.length, out);
      read = at + (r.read - filled);
      out = r.out;
      filled = out;
    }
    expect(d.done).toBe(true);
    return { body: buf.toString('latin1', 0, out), read };
  }

  it('yields the same body however the bytes are split, and stops after the trailers', () => {
    for (const step of [1, 2, 3, 7, 16, wire.length]) {
      const r = decodeInSteps(step);
      expect(r.body).toBe(body);
      expect(r.read).toBe(wire.length - 'NEXT'.length);
    }
  });

  it('rejects a bad chunk size and data longer than declared', () => {
    expect(() => new ChunkedDecoder().decode(Buffer.from('zz\r\n'), 0, 4, 0)).toThrow(/chunk size/);
    expect(() => new ChunkedDecoder().decode(Buffer.from('2\r\nabc\r\n'), 0, 8, 0)).toThrow(/longer than/);
    expect(() => new ChunkedDecoder().decode(Buffer.alloc(5000, 0x31), 0, 5000, 0)).toThrow(/too long/);
  });
});
