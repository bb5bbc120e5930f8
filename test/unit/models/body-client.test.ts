import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createBodyClient, type BodyClient, type BodyResponse } from '../../../src/models/body-client.js';
import { isStall, isTransientNetworkError } from '../../../src/models/network-errors.js';
import { Agent } from 'undici';

/**
 * The direct body client against servers that answer with exact bytes, split where a test wants
 * (a gap between writes makes them separate reads on the client).
 */
interface Scripted {
  url: string;
  /** TCP connections accepted so far. */
  connections: number;
  /** Requests received, as text. */
  requests: string[];
  closedByClient: number;
}

type Answer = (sock: net.Socket, request: string, index: number) => Promise<void> | void;

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
const clients: BodyClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of sockets) s.destroy();
  sockets.clear();
  for (const s of servers.splice(0)) s.close();
});

async function scripted(answer: Answer): Promise<Scripted> {
  const state: Scripted = { url: '', connections: 0, requests: [], closedByClient: 0 };
  // Half-open allowed, so the server can tell whether the client closed first.
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    state.connections++;
    sockets.add(sock);
    let pending = '';
    sock.on('data', (d) => {
      pending += d.toString('latin1');
      let end;
      while ((end = pending.indexOf('\r\n\r\n')) !== -1) {
        const request = pending.slice(0, end);
        pending = pending.slice(end + 4);
        state.requests.push(request);
        void Promise.resolve(answer(sock, request, state.requests.length - 1)).catch(() => sock.destroy());
      }
    });
    const closedByClient = (): void => {
      if (!sock.writableEnded) state.closedByClient++;
      sock.destroy();
    };
    sock.on('end', closedByClient);
    sock.on('error', closedByClient);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return state;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Write `pieces` with a gap between them, so each arrives as its own read. */
async function send(sock: net.Socket, pieces: Array<string | Buffer>, gapMs = 15): Promise<void> {
  for (const p of pieces) {
    if (sock.destroyed) return;
    sock.write(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
    await pause(gapMs);
  }
}

function direct(stallMs = 10_000): BodyClient {
  const client = createBodyClient({}, stallMs, () => undefined, new Agent());
  clients.push(client);
  return client;
}

/** Receive a whole body, keeping a copy of every run handed over. */
async function collect(res: BodyResponse): Promise<{ body: Buffer; runs: number[]; error?: unknown }> {
  const parts: Buffer[] = [];
  const runs: number[] = [];
  try {
    await res.receive((pieces, bytes) => {
      runs.push(bytes);
      for (const p of pieces) parts.push(Buffer.from(p));
    });
    return { body: Buffer.concat(parts), runs };
  } catch (error) {
    return { body: Buffer.concat(parts), runs, error };
  }
}

const get = (client: BodyClient, url: string, signal = new AbortController().signal) => client.get(`${url}/blob?sig=1`, { range: 'bytes=0-', 'user-agent': 'msting' }, signal);

describe('the direct body client', () => {
  it('reads a head split across reads, with repeated fields, and a Content-Length body in pieces', async () => {
    const body = randomBytes(300_000);
    const srv = await scripted((sock) =>
      send(sock, ['HTTP/1.1 2', `06 Partial Content\r\nContent-Length: ${body.length}\r\nVia: a\r\n`, 'Via: b\r\n\r', '\n', body.subarray(0, 1000), body.subarray(1000)]),
    );
    const res = await get(direct(), srv.url);
    expect(res.statusCode).toBe(206);
    expect(res.headers.via).toEqual(['a', 'b']);
    const got = await collect(res);
    expect(got.body.equals(body)).toBe(true);
    expect(srv.requests[0]).toMatch(/^GET \/blob\?sig=1 HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\nrange: bytes=0-\r\nuser-agent: msting$/);
  });

  it('hands a body that arrives in small reads over in runs of about a MiB, byte for byte', async () => {
    const body = randomBytes(4 * 1024 * 1024 + 17);
    const pieces: Buffer[] = [];
    for (let at = 0; at < body.length; at += 64 * 1024) pieces.push(body.subarray(at, at + 64 * 1024));
    const srv = await scripted((sock) => send(sock, [`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`, ...pieces], 1));
    const got = await collect(await get(direct(), srv.url));
    expect(createHash('sha256').update(got.body).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    // One write per ~MiB gathered, not one per read: every run but the last is at least 960 KiB.
    expect(got.runs.length).toBeLessThanOrEqual(5);
    for (const run of got.runs.slice(0, -1)) expect(run).toBeGreaterThanOrEqual(960 * 1024);
  });

  it('keeps the connection for the next request, and opens another after Connection: close', async () => {
    const srv = await scripted((sock, _req, i) => send(sock, [`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n${i === 1 ? 'Connection: close\r\n' : ''}\r\nok`]));
    const client = direct();
    for (let i = 0; i < 3; i++) expect((await collect(await get(client, srv.url))).body.toString()).toBe('ok');
    expect(srv.requests).toHaveLength(3);
    expect(srv.connections).toBe(2);
  });

  it('decodes a chunked body split anywhere, and reuses the connection after its trailers', async () => {
    const srv = await scripted((sock) =>
      send(sock, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r', '\nhel', 'lo\r\n6;x=y\r\n world\r\n0\r\nX-T: 1\r', '\n\r\n']),
    );
    const client = direct();
    expect((await collect(await get(client, srv.url))).body.toString()).toBe('hello world');
    expect((await collect(await get(client, srv.url))).body.toString()).toBe('hello world');
    expect(srv.connections).toBe(1);
  });

  it('reads a body without length to the end of the connection, after skipping an interim 103', async () => {
    const srv = await scripted(async (sock) => {
      await send(sock, ['HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n', 'HTTP/1.0 200 OK\r\n\r\nuntil ', 'the end']);
      sock.end();
    });
    const res = await get(direct(), srv.url);
    expect(res.statusCode).toBe(200);
    expect((await collect(res)).body.toString()).toBe('until the end');
  });

  it('holds a body that arrived before receive() is called', async () => {
    const bodies = ['abcdef', 'the second answer'];
    const srv = await scripted((sock, _r, i) => send(sock, [`HTTP/1.1 200 OK\r\nContent-Length: ${bodies[i]!.length}\r\n\r\n${bodies[i]}`]));
    const client = direct();
    const res = await get(client, srv.url);
    await pause(50);
    expect((await collect(res)).body.toString()).toBe('abcdef');
    // The buffer was emptied outside a read; the next response on the connection still lands right.
    expect((await collect(await get(client, srv.url))).body.toString()).toBe('the second answer');
    expect(srv.connections).toBe(1);
  });

  it('hands over what arrived, then fails as a transient error, when the server closes mid-body', async () => {
    const srv = await scripted(async (sock) => {
      await send(sock, ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 'first forty bytes of the body, then ...']);
      sock.destroy();
    });
    const got = await collect(await get(direct(), srv.url));
    expect(got.body.toString()).toBe('first forty bytes of the body, then ...');
    expect(isTransientNetworkError(got.error)).toBe(true);
    expect((got.error as Error).message).toMatch(/closed the connection in the middle of the response/);
  });

  it('ends a request that receives nothing for the stall timeout, as a stall', async () => {
    const srv = await scripted((sock) => send(sock, ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 'some']));
    const got = await collect(await get(direct(300), srv.url));
    expect(got.body.toString()).toBe('some');
    expect(isStall(got.error)).toBe(true);
    expect(isTransientNetworkError(got.error)).toBe(true);
  });

  it('retries once on a new connection when a kept-alive one was closed by the server meanwhile', async () => {
    const srv = await scripted(async (sock) => {
      await send(sock, ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok']);
      sock.end();
    });
    const client = direct();
    expect((await collect(await get(client, srv.url))).body.toString()).toBe('ok');
    await pause(50);
    expect((await collect(await get(client, srv.url))).body.toString()).toBe('ok');
    expect(srv.connections).toBe(2);
  });

  it('stops at once when the signal aborts, closing the connection', async () => {
    const srv = await scripted((sock) => send(sock, ['HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', 'a', 'b', 'c', 'd', 'e', 'f'], 100));
    const stop = new AbortController();
    const res = await get(direct(), srv.url, stop.signal);
    setTimeout(() => stop.abort(new Error('interrupted by the user')), 150);
    const got = await collect(res);
    expect((got.error as Error).message).toBe('interrupted by the user');
    await pause(50);
    expect(srv.closedByClient).toBe(1);
  });

  it('rejects what is not HTTP/1.x, a head without end, and a header that would split the request', async () => {
    const srv = await scripted((sock, _r, i) => send(sock, [i === 0 ? 'SSH-2.0-OpenSSH_9.6\r\n\r\n' : `HTTP/1.1 200 OK\r\nX-Big: ${'x'.repeat(70 * 1024)}`]));
    const client = direct();
    await expect(get(client, srv.url)).rejects.toMatchObject({ code: 'MSTING_HTTP_PROTOCOL', message: expect.stringMatching(/status line/) });
    await expect(get(client, srv.url)).rejects.toThrow(/response head larger than 64 KiB/);
    await expect(client.get(`${srv.url}/x`, { range: 'bytes=0-\r\nauthorization: stolen' }, new AbortController().signal)).rejects.toThrow(/invalid request header/);
    expect(srv.requests).toHaveLength(2);
  });

  it('closes the connection of a body that is discarded', async () => {
    const srv = await scripted((sock) => send(sock, ['HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found']));
    const client = direct();
    const res = await get(client, srv.url);
    expect(res.statusCode).toBe(404);
    await res.discard();
    await pause(50);
    expect(srv.closedByClient).toBe(1);
    await get(client, srv.url);
    expect(srv.connections).toBe(2);
  });
});
