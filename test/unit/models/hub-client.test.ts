import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { HubClient } from '../../../src/models/hub-client.js';

const COMMIT = 'c'.repeat(40);
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(handler: (url: URL, headers: IncomingHttpHeaders) => { status?: number; headers?: Record<string, string>; body: unknown }): Promise<string> {
  const server = createServer((req, res) => {
    const answer = handler(new URL(req.url!, 'http://x'), req.headers);
    res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
    res.end(JSON.stringify(answer.body));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(endpoint: string): HubClient {
  return new HubClient({
    endpoint,
    token: 'hf_secret_token',
    tokenSource: 'HF_TOKEN',
    dispatcher: new Agent(),
    signal: new AbortController().signal,
    tuning: { retries: 0, retryBaseMs: 1, maxRetryAfterMs: 1 },
  });
}

const file = (path: string) => ({ type: 'file', path, size: 3, oid: path.padEnd(40, '0').slice(0, 40) });

describe('the hub client', () => {
  it('lists every page a mirror links relatively, stops at a link to another host, and sends the token to the hub only', async () => {
    const elsewhere: string[] = [];
    const other = await serve((url) => {
      elsewhere.push(url.pathname);
      return { body: [file('stolen.json')] };
    });
    const seen: Array<string | undefined> = [];
    const hub = await serve((url, headers) => {
      seen.push(headers.authorization);
      const cursor = url.searchParams.get('cursor');
      if (!cursor) return { headers: { link: `<${url.pathname}?recursive=true&expand=false&cursor=1>; rel="next"` }, body: [file('a.json')] };
      return { headers: { link: `<${other}/next>; rel="next"` }, body: [file('b.json')] };
    });
    const files = await client(hub).listFiles({ name: 'x', repo: 'acme/x', revision: 'main' }, COMMIT);
    expect(files.map((f) => f.path)).toEqual(['a.json', 'b.json']);
    expect(seen).toEqual(['Bearer hf_secret_token', 'Bearer hf_secret_token']);
    expect(elsewhere).toEqual([]);
  });

  it('resolves a revision to its commit, and a gated repository to the error that says what to do', async () => {
    const hub = await serve((url) =>
      url.pathname.includes('gated')
        ? { status: 403, headers: { 'x-error-code': 'GatedRepo' }, body: { error: 'restricted' } }
        : { body: { id: 'acme/x', sha: COMMIT } },
    );
    expect(await client(hub).resolveRevision({ name: 'x', repo: 'acme/x', revision: 'main' })).toBe(COMMIT);
    const err = await client(hub).resolveRevision({ name: 'g', repo: 'acme/gated', revision: 'main' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'HUB_GATED', exitCode: 5 });
    expect(String((err as Error).message)).not.toContain('hf_secret_token');
  });
});
