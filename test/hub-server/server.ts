/**
 * A local Hugging Face Hub for tests and benchmarks: the revision and tree API, `resolve` with the
 * documented headers (X-Repo-Commit, X-Linked-Etag, X-Linked-Size, ETag, a 302 to a separate
 * storage origin for LFS files), HEAD, Range (206/416), gated, missing and unauthorized answers,
 * 429 with Retry-After, and faults on demand: a dropped connection at a byte, a stall, a corrupted
 * byte, a changed ETag, a per-connection rate cap. It counts the bytes it serves and records
 * every request's headers (to prove the token never reaches storage).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface HubFileSpec {
  path: string;
  /** Content in memory... */
  data?: Buffer;
  /** ...or a file on disk (served with positional reads, never loaded whole). */
  source?: string;
  /** Stored with git LFS: resolved by a 302 to the storage origin. */
  lfs?: boolean;
  /** Precomputed sha256 of a large source file (saves a pass). */
  sha256?: string;
  /** Size the tree listing and X-Linked-Size announce instead of the real one (disk-full tests). */
  advertisedSize?: number;
}

export interface HubRepoSpec {
  repo: string;
  commit?: string;
  /** Branches and tags → commit (default: main → commit). */
  refs?: Record<string, string>;
  gated?: boolean;
  files: HubFileSpec[];
}

export interface ByteFault {
  path: string;
  /** Absolute byte offset in the file. */
  byte: number;
  /** How many more responses it applies to. */
  times: number;
}

/** The most a rate cap's schedule lets a starved server catch up by at once. */
const BURST_MS = 200;

export interface Faults {
  dropAt: ByteFault[];
  stallAt: ByteFault[];
  corruptAt: ByteFault[];
  /** Bytes per second per connection for file bodies (0: no cap). */
  rateCap: number;
  /** Bytes per second for all file bodies together, as a slow link would carry them (0: no cap). */
  totalRateCap: number;
  /** The next N API/resolve requests answer 429 with this Retry-After (seconds). */
  rateLimit: { count: number; retryAfter: number };
  /** Storage answers 200 with the whole body to a Range request. */
  ignoreRange: boolean;
  /** LFS redirects point at this origin instead of the storage server (a CDN a firewall blocks). */
  redirectOrigin: string | undefined;
}

export interface RecordedRequest {
  origin: 'hub' | 'storage';
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface HubOptions {
  repos: HubRepoSpec[];
  /** Valid tokens; any other Authorization gets 401. */
  tokens?: string[];
  /** token → gated repositories it may read. */
  gatedAccess?: Record<string, string[]>;
  /** Files per tree page (to exercise Link pagination). */
  pageSize?: number;
  port?: number;
  storagePort?: number;
  /** Serve the hub over HTTPS with this certificate (PEM chain and key). */
  tls?: TlsIdentity;
  /** Serve the storage origin over HTTPS with this one; defaults to `tls`. */
  storageTls?: TlsIdentity;
}

export interface TlsIdentity {
  cert: string;
  key: string;
}

interface StoredFile {
  path: string;
  size: number;
  advertised: number;
  lfs: boolean;
  sha256: string;
  gitSha1: string;
  data?: Buffer;
  source?: string;
  etagVersion: number;
}

interface StoredRepo {
  repo: string;
  commit: string;
  refs: Record<string, string>;
  gated: boolean;
  files: Map<string, StoredFile>;
}

export interface HubStats {
  /** File body bytes written to clients (hub and storage). */
  bytesServed: number;
  byPath: Record<string, number>;
  requests: RecordedRequest[];
  /** The most file bodies being sent at once since the last reset. */
  peakConcurrentBodies: number;
}

export interface HubServer {
  url: string;
  storageUrl: string;
  faults: Faults;
  stats: HubStats;
  /** Make storage serve a new ETag for this file from now on (the content "changed"). */
  changeEtag(path: string): void;
  resetStats(): void;
  close(): Promise<void>;
}

function emptyFaults(): Faults {
  return { dropAt: [], stallAt: [], corruptAt: [], rateCap: 0, totalRateCap: 0, rateLimit: { count: 0, retryAfter: 1 }, ignoreRange: false, redirectOrigin: undefined };
}

async function hashSource(path: string): Promise<{ sha256: string; gitSha1: string; size: number }> {
  const size = (await stat(path)).size;
  const a = createHash('sha256');
  const b = createHash('sha1');
  b.update(`blob ${size}\0`);
  for await (const c of createReadStream(path, { highWaterMark: 4 << 20 })) {
    a.update(c as Buffer);
    b.update(c as Buffer);
  }
  return { sha256: a.digest('hex'), gitSha1: b.digest('hex'), size };
}

export async function storeFile(spec: HubFileSpec): Promise<StoredFile> {
  let size: number;
  let sha256: string;
  let gitSha1: string;
  if (spec.data) {
    size = spec.data.length;
    sha256 = createHash('sha256').update(spec.data).digest('hex');
    gitSha1 = createHash('sha1').update(`blob ${size}\0`).update(spec.data).digest('hex');
  } else if (spec.source) {
    if (spec.sha256) {
      size = (await stat(spec.source)).size;
      sha256 = spec.sha256;
      gitSha1 = createHash('sha1').update(spec.source).digest('hex');
    } else ({ sha256, gitSha1, size } = await hashSource(spec.source));
  } else throw new Error(`file ${spec.path} has neither data nor source`);
  return {
    path: spec.path,
    size,
    advertised: spec.advertisedSize ?? size,
    lfs: spec.lfs ?? false,
    sha256,
    gitSha1,
    ...(spec.data ? { data: spec.data } : {}),
    ...(spec.source ? { source: spec.source } : {}),
    etagVersion: 0,
  };
}

function commitOf(repo: string): string {
  return createHash('sha1').update(`commit:${repo}`).digest('hex');
}

export async function startHub(options: HubOptions): Promise<HubServer> {
  const repos = new Map<string, StoredRepo>();
  const byBlob = new Map<string, { repo: StoredRepo; file: StoredFile }>();
  for (const spec of options.repos) {
    const commit = spec.commit ?? commitOf(spec.repo);
    const stored: StoredRepo = { repo: spec.repo, commit, refs: spec.refs ?? { main: commit }, gated: spec.gated ?? false, files: new Map() };
    for (const f of spec.files) {
      const file = await storeFile(f);
      stored.files.set(file.path, file);
      byBlob.set(file.sha256, { repo: stored, file });
    }
    repos.set(spec.repo, stored);
  }
  const tokens = new Set(options.tokens ?? []);
  const pageSize = options.pageSize ?? 1000;
  const faults = emptyFaults();
  const stats: HubStats = { bytesServed: 0, byPath: {}, requests: [], peakConcurrentBodies: 0 };
  // Bodies in flight, and the schedule all of them share under `totalRateCap` (restarted whenever
  // none is in flight, so an idle server does not bank credit).
  let bodiesInFlight = 0;
  const link = { begun: 0, sent: 0 };

  const serve = (identity: TlsIdentity | undefined, listener: RequestListener): Server => (identity ? createTlsServer(identity, listener) : createServer(listener));
  const hubTls = options.tls;
  const storageTls = options.storageTls ?? options.tls;
  const hub = serve(hubTls, (req, res) => {
    stats.requests.push({ origin: 'hub', method: req.method ?? 'GET', url: req.url ?? '/', headers: { ...req.headers } });
    handleHub(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
      else res.destroy();
    });
  });
  const storage = serve(storageTls, (req, res) => {
    stats.requests.push({ origin: 'storage', method: req.method ?? 'GET', url: req.url ?? '/', headers: { ...req.headers } });
    handleStorage(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
      else res.destroy();
    });
  });
  const hubPort = await listen(hub, options.port ?? 0);
  const storagePort = await listen(storage, options.storagePort ?? 0);
  const url = `${hubTls ? 'https' : 'http'}://127.0.0.1:${hubPort}`;
  const storageUrl = `${storageTls ? 'https' : 'http'}://127.0.0.1:${storagePort}`;

  function error(res: ServerResponse, status: number, code: string | undefined, message: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req-${stats.requests.length}`, ...(code ? { 'x-error-code': code } : {}), 'x-error-message': message, ...extra });
    res.end(JSON.stringify({ error: message }));
  }

  /** Authorization check as the Hub does it; returns the repo or answers the error. */
  function authorize(req: IncomingMessage, res: ServerResponse, name: string): StoredRepo | undefined {
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (auth !== undefined && (token === undefined || !tokens.has(token))) {
      error(res, 401, undefined, 'Invalid credentials in Authorization header');
      return undefined;
    }
    const repo = repos.get(name);
    if (!repo) {
      error(res, 404, 'RepoNotFound', 'Repository not found');
      return undefined;
    }
    if (repo.gated) {
      if (!token) {
        error(res, 401, 'GatedRepo', `Access to model ${name} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
        return undefined;
      }
      if (!(options.gatedAccess?.[token] ?? []).includes(name)) {
        error(res, 403, 'GatedRepo', `Access to model ${name} is restricted and you are not in the authorized list. Visit https://huggingface.co/${name} to ask for access.`);
        return undefined;
      }
    }
    return repo;
  }

  function rateLimited(res: ServerResponse): boolean {
    if (faults.rateLimit.count <= 0) return false;
    faults.rateLimit.count--;
    error(res, 429, undefined, 'You have been rate-limited; you can retry this action later.', { 'retry-after': String(faults.rateLimit.retryAfter) });
    return true;
  }

  function commitFor(repo: StoredRepo, rev: string): string | undefined {
    if (rev === repo.commit) return rev;
    return repo.refs[rev];
  }

  async function handleHub(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    const parts = u.pathname.split('/').slice(1).map(decodeURIComponent);
    if (rateLimited(res)) return;
    if (parts[0] === 'api' && parts[1] === 'models') {
      const name = `${parts[2]}/${parts[3]}`;
      const repo = authorize(req, res, name);
      if (!repo) return;
      const rev = parts.slice(5).join('/');
      const commit = commitFor(repo, rev);
      if (!commit) return error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      if (parts[4] === 'revision') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: name, modelId: name, sha: commit, gated: repo.gated ? 'manual' : false, private: false }));
        return;
      }
      if (parts[4] === 'tree') {
        const all = [...repo.files.values()].sort((a, b) => a.path.localeCompare(b.path));
        const cursor = Number(u.searchParams.get('cursor') ?? 0);
        const page = all.slice(cursor, cursor + pageSize);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (cursor + pageSize < all.length) {
          const next = new URL(u.toString());
          next.searchParams.set('cursor', String(cursor + pageSize));
          headers.link = `<${next.toString()}>; rel="next"`;
        }
        res.writeHead(200, headers);
        res.end(
          JSON.stringify(
            page.map((f) => ({
              type: 'file',
              path: f.path,
              size: f.advertised,
              oid: f.gitSha1,
              ...(f.lfs ? { lfs: { oid: f.sha256, size: f.advertised, pointerSize: 134 } } : {}),
            })),
          ),
        );
        return;
      }
      return error(res, 404, undefined, 'Not found');
    }
    // /{org}/{name}/resolve/{rev}/{path...}
    if (parts[2] === 'resolve') {
      const name = `${parts[0]}/${parts[1]}`;
      const repo = authorize(req, res, name);
      if (!repo) return;
      const commit = commitFor(repo, parts[3] ?? '');
      if (!commit) return error(res, 404, 'RevisionNotFound', `Invalid rev id: ${parts[3]}`);
      const path = parts.slice(4).join('/');
      const file = repo.files.get(path);
      if (!file) return error(res, 404, 'EntryNotFound', `${path} does not exist on "${parts[3]}"`);
      if (file.lfs) {
        res.writeHead(302, {
          location: `${faults.redirectOrigin ?? storageUrl}/lfs/${file.sha256}?signature=${createHash('md5').update(file.sha256).digest('hex')}`,
          'x-repo-commit': commit,
          'x-linked-etag': `"${file.sha256}"`,
          'x-linked-size': String(file.advertised),
          etag: `"${file.sha256}"`,
          'content-length': '0',
        });
        res.end();
        return;
      }
      await serveFile(req, res, file, { 'x-repo-commit': commit, etag: `"${file.gitSha1}"` });
      return;
    }
    error(res, 404, undefined, 'Not found');
  }

  async function handleStorage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', storageUrl);
    const m = /^\/lfs\/([0-9a-f]{64})$/.exec(u.pathname);
    const entry = m ? byBlob.get(m[1]!) : undefined;
    if (!entry || !u.searchParams.get('signature')) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('AccessDenied');
      return;
    }
    const f = entry.file;
    await serveFile(req, res, f, { etag: `"storage-${f.sha256.slice(0, 16)}-v${f.etagVersion}"` });
  }

  async function serveFile(req: IncomingMessage, res: ServerResponse, file: StoredFile, headers: Record<string, string>): Promise<void> {
    let start = 0;
    let end = file.size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range && !faults.ignoreRange) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!m || Number(m[1]) >= file.size) {
        res.writeHead(416, { 'content-range': `bytes */${file.size}`, ...headers }).end();
        return;
      }
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), file.size - 1) : file.size - 1;
      status = 206;
    }
    const length = end - start + 1;
    res.writeHead(status, {
      'content-type': 'application/octet-stream',
      'content-length': String(length),
      'accept-ranges': 'bytes',
      ...(status === 206 ? { 'content-range': `bytes ${start}-${end}/${file.size}` } : {}),
      ...headers,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await sendBytes(res, file, start, end + 1);
  }

  function takeFault(list: ByteFault[], path: string, from: number, to: number): ByteFault | undefined {
    const f = list.find((x) => x.path === path && x.times > 0 && x.byte >= from && x.byte < to);
    if (f) f.times--;
    return f;
  }

  async function sendBytes(res: ServerResponse, file: StoredFile, from: number, to: number): Promise<void> {
    const handle = file.source ? await open(file.source, 'r') : undefined;
    let begun = Date.now();
    let sent = 0;
    if (bodiesInFlight++ === 0) Object.assign(link, { begun, sent: 0 });
    stats.peakConcurrentBodies = Math.max(stats.peakConcurrentBodies, bodiesInFlight);
    let pos = from;
    const count = (n: number): void => {
      stats.bytesServed += n;
      stats.byPath[file.path] = (stats.byPath[file.path] ?? 0) + n;
    };
    try {
      const drop = takeFault(faults.dropAt, file.path, from, to);
      const stall = takeFault(faults.stallAt, file.path, from, to);
      const corrupt = takeFault(faults.corruptAt, file.path, from, to);
      const stopAt = Math.min(drop?.byte ?? to, stall?.byte ?? to);
      const piece = faults.rateCap > 0 || faults.totalRateCap > 0 ? 64 * 1024 : 1024 * 1024;
      // A few read buffers, each reused once the socket has taken its bytes: a fresh buffer per
      // read costs this server page faults on new memory, CPU it shares with the client it serves.
      const free = Array.from({ length: 4 }, () => Buffer.allocUnsafe(piece));
      const waiting: Array<() => void> = [];
      const release = (b: (typeof free)[number]): void => {
        free.push(b);
        waiting.shift()?.();
      };
      while (pos < stopAt) {
        if (res.destroyed) return;
        const n = Math.min(piece, stopAt - pos);
        if (free.length === 0) await new Promise<void>((resolve) => waiting.push(resolve));
        const own = free.pop()!;
        let buf: Buffer;
        if (handle) {
          const { bytesRead } = await handle.read(own, 0, n, pos);
          buf = own.subarray(0, bytesRead);
        } else buf = own.subarray(0, file.data!.copy(own, 0, pos, pos + n));
        if (corrupt && corrupt.byte >= pos && corrupt.byte < pos + buf.length) buf[corrupt.byte - pos] = (buf[corrupt.byte - pos] ?? 0) ^ 0xff;
        const ok = res.write(buf, () => release(own));
        count(buf.length);
        pos += buf.length;
        sent += buf.length;
        if (!ok) await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
        if (faults.totalRateCap > 0) link.sent += buf.length;
        // The caps hold the next piece back; after the last one there is nothing to hold.
        if (pos >= stopAt) break;
        // A schedule fallen behind (this process starved of CPU) banks at most BURST_MS of credit:
        // a capped link or connection does not catch up above its rate.
        const now = Date.now();
        let due = 0;
        if (faults.rateCap > 0) {
          begun = Math.max(begun, now - BURST_MS - (sent / faults.rateCap) * 1000);
          due = begun + (sent / faults.rateCap) * 1000;
        }
        if (faults.totalRateCap > 0) {
          link.begun = Math.max(link.begun, now - BURST_MS - (link.sent / faults.totalRateCap) * 1000);
          due = Math.max(due, link.begun + (link.sent / faults.totalRateCap) * 1000);
        }
        const wait = due - now;
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      if (drop && pos >= drop.byte) {
        res.socket?.destroy();
        return;
      }
      if (stall && pos >= stall.byte) {
        // Hold the connection open and send nothing more until the client gives up.
        await new Promise<void>((resolve) => res.on('close', () => resolve()));
        return;
      }
      res.end();
    } finally {
      bodiesInFlight--;
      await handle?.close();
    }
  }

  return {
    url,
    storageUrl,
    faults,
    stats,
    changeEtag(path: string) {
      for (const repo of repos.values()) {
        const f = repo.files.get(path);
        if (f) f.etagVersion++;
      }
    },
    resetStats() {
      stats.bytesServed = 0;
      stats.byPath = {};
      stats.requests.length = 0;
      stats.peakConcurrentBodies = bodiesInFlight;
    },
    async close() {
      for (const s of [hub, storage]) s.closeAllConnections();
      await Promise.all([hub, storage].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}
