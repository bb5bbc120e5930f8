import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type HubServer } from '../../hub-server/server.js';
import { content, sha256, startProxy, tempDir } from './helpers.js';

/**
 * The built binary against the local hub over real sockets: bin/msting.js with HF_ENDPOINT
 * pointing at test/hub-server. Needs `npm run build` first (npm test does it).
 */
const MiB = 1024 * 1024;
const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin', 'msting.js');
const BIG = 48 * MiB;
const GOOD_TOKEN = 'hf_test_good_token_0123456789';

let hub: HubServer;
let work: { dir: string; cleanup: () => Promise<void> };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const CONFIG = `
llm:
  models:
    - name: tiny
      repo: acme/tiny
      exclude: ["original/**"]
    - name: big
      repo: acme/big
      enabled: false
    - name: gated
      repo: acme/gated
      enabled: false
    - name: nowhere
      repo: acme/nowhere
      enabled: false
    - name: huge
      repo: acme/huge
      enabled: false
`;

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: work.dir,
    HF_ENDPOINT: hub.url,
    STING_MODELS_DIR: join(work.dir, 'models'),
    MSTING_DOWNLOAD_CHUNK_MB: '4',
    MSTING_DOWNLOAD_RETRY_BASE_MS: '50',
    MSTING_DOWNLOAD_STALL_MS: '2000',
    ...extra,
  };
}

function start(args: string[], extra: Record<string, string> = {}): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, '--home', join(work.dir, 'home'), ...args], { env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // A hung run fails its test instead of the whole suite's timeout.
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const done = new Promise<Run>((res) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    }),
  );
  return { child, done };
}

const msting = (args: string[], extra: Record<string, string> = {}): Promise<Run> => start(args, extra).done;

/** Bytes a partial download's record says are on disk (0 before there is one). */
async function recorded(blobs: string): Promise<number> {
  const name = existsSync(blobs) ? (await readdir(blobs)).find((f) => f.endsWith('.incomplete.json')) : undefined;
  if (!name) return 0;
  try {
    return (JSON.parse(await readFile(join(blobs, name), 'utf8')) as { progress: number[] }).progress.reduce((a, b) => a + b, 0);
  } catch {
    return 0; // being replaced at this moment
  }
}

/** Polls `check` until it holds; fails naming `what` after a deadline a busy machine still meets. */
async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('build first: npm run build');
  work = await tempDir('cli');
  await mkdir(join(work.dir, 'home', 'conf'), { recursive: true });
  await writeFile(join(work.dir, 'home', 'conf', 'config.yml'), CONFIG);
  hub = await startHub({
    tokens: [GOOD_TOKEN],
    gatedAccess: {},
    pageSize: 2,
    repos: [
      {
        repo: 'acme/tiny',
        files: [
          { path: 'config.json', data: Buffer.from('{"model_type":"llama"}\n') },
          { path: 'generation_config.json', data: Buffer.from('{"max_length":4096}\n') },
          { path: 'tokenizer.json', data: content(300_000, 5) },
          { path: 'model-00001-of-00002.safetensors', data: content(6 * MiB, 6), lfs: true },
          { path: 'model-00002-of-00002.safetensors', data: content(5 * MiB + 17, 7), lfs: true },
          { path: 'original/consolidated.00.pth', data: content(1 * MiB, 8), lfs: true },
        ],
      },
      { repo: 'acme/big', files: [{ path: 'model.safetensors', data: content(BIG, 9), lfs: true }] },
      { repo: 'acme/gated', gated: true, files: [{ path: 'model.safetensors', data: content(1000, 10), lfs: true }] },
      { repo: 'acme/huge', files: [{ path: 'model.safetensors', data: content(1000, 11), lfs: true, advertisedSize: 2 ** 50 }] },
    ],
  });
});

afterAll(async () => {
  await hub?.close();
  await work?.cleanup();
});

describe('msting models (built binary, local hub)', () => {
  it('downloads a multi-file model into the HF cache layout, verified, with the token kept off the storage host', async () => {
    hub.resetStats();
    const r = await msting(['models', 'download'], { HF_TOKEN: GOOD_TOKEN });
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/tiny: acme\/tiny@[0-9a-f]{12} verified, 5 files/);
    const root = join(work.dir, 'models', 'models--acme--tiny');
    const commit = (await readFile(join(root, 'refs', 'main'), 'utf8')).trim();
    const snap = join(root, 'snapshots', commit);
    expect((await readdir(snap)).sort()).toEqual(['config.json', 'generation_config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'tokenizer.json']);
    expect(sha256(await readFile(join(snap, 'model-00002-of-00002.safetensors')))).toBe(sha256(content(5 * MiB + 17, 7)));
    // The token went to the hub and never to the storage origin the LFS files redirect to.
    const storage = hub.stats.requests.filter((q) => q.origin === 'storage');
    const hubSide = hub.stats.requests.filter((q) => q.origin === 'hub');
    expect(storage.length).toBeGreaterThan(0);
    expect(storage.every((q) => q.headers.authorization === undefined)).toBe(true);
    expect(hubSide.every((q) => q.headers.authorization === `Bearer ${GOOD_TOKEN}`)).toBe(true);
    expect(r.stderr + r.stdout).not.toContain(GOOD_TOKEN);

    const list = await msting(['models', 'list', '--json']);
    const listed = JSON.parse(list.stdout) as { models: Array<{ name: string; state: string; size: number | null }> };
    expect(listed.models.find((m) => m.name === 'tiny')).toMatchObject({ state: 'verified', size: 6 * MiB + 5 * MiB + 17 + 300_000 + 23 + 20 });
    // Not downloaded: its size comes from the hub, and nothing is recorded.
    expect(listed.models.find((m) => m.name === 'big')).toMatchObject({ state: 'missing', size: BIG });
    expect(existsSync(join(work.dir, 'models', '.msting', 'models', 'big.json'))).toBe(false);
    const offline = JSON.parse((await msting(['models', 'list', '--json'], { HF_HUB_OFFLINE: '1' })).stdout) as typeof listed;
    expect(offline.models.find((m) => m.name === 'big')).toMatchObject({ state: 'missing', size: null });
  });

  it('after kill -9 in the middle of a large file, a re-run fetches only the missing bytes', async () => {
    hub.resetStats();
    hub.faults.rateCap = 3 * MiB; // per connection, so the kill lands mid-file
    const first = start(['models', 'download', 'big'], { MSTING_DOWNLOAD_CONNECTIONS: '4' });
    const blobs = join(work.dir, 'models', 'models--acme--big', 'blobs');
    for (let i = 0; i < 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const files = existsSync(blobs) ? await readdir(blobs) : [];
      const name = files.find((f) => f.endsWith('.incomplete.json'));
      if (name) {
        const s = JSON.parse(await readFile(join(blobs, name), 'utf8')) as { progress: number[] };
        if (s.progress.reduce((a, b) => a + b, 0) > 8 * MiB) break;
      }
    }
    first.child.kill('SIGKILL');
    await first.done;
    const name = (await readdir(blobs)).find((f) => f.endsWith('.incomplete.json'))!;
    const sidecar = JSON.parse(await readFile(join(blobs, name), 'utf8')) as { progress: number[] };
    const kept = sidecar.progress.reduce((a, b) => a + b, 0);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(BIG);
    hub.faults.rateCap = 0;
    hub.resetStats();
    const again = await msting(['models', 'download', 'big']);
    expect(again.code).toBe(0);
    // Exactly what the record said was missing, not a byte more.
    expect(hub.stats.byPath['model.safetensors']).toBe(BIG - kept);
    const verify = await msting(['models', 'verify', 'big']);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain('big: 1 files verified');
  });

  it.skipIf(process.getuid?.() !== 0)('says the disk filled up during a download, keeps what was written, and the next run finishes it (needs root to mount a small tmpfs)', async () => {
    // Room for the file and msting's margin when it starts; then something else takes the space.
    const dir = join(work.dir, 'small-disk');
    await mkdir(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1100m', 'tmpfs', dir]);
    try {
      const extra = { STING_MODELS_DIR: join(dir, 'models'), MSTING_DOWNLOAD_CONNECTIONS: '2' };
      hub.resetStats();
      hub.faults.rateCap = 4 * MiB;
      const run = start(['models', 'download', 'big'], extra);
      const blobs = join(dir, 'models', 'models--acme--big', 'blobs');
      await until(async () => (await recorded(blobs)) >= 4 * MiB, 'the download records 4 MiB');
      const { bavail, bsize } = await statfs(dir);
      execFileSync('fallocate', ['-l', String(Number(bavail) * Number(bsize) - 256 * 1024), join(dir, 'filler')]);
      const full = await run.done;
      hub.faults.rateCap = 0;
      expect(full.code).toBe(1);
      expect(full.stderr).toContain('no space left on the device');
      expect(full.stderr).toContain('model.safetensors');
      expect(full.stderr).toMatch(/hint: free some space.*resumes/);
      const kept = await recorded(blobs);
      expect(kept).toBeGreaterThanOrEqual(4 * MiB);
      await rm(join(dir, 'filler'));
      hub.resetStats();
      const again = await msting(['models', 'download', 'big'], extra);
      expect(again.code).toBe(0);
      expect(hub.stats.byPath['model.safetensors']).toBe(BIG - kept);
    } finally {
      hub.faults.rateCap = 0;
      execFileSync('umount', [dir]);
    }
  });

  it('names the storage host when the hub answers but the host its downloads are redirected to cannot be reached', async () => {
    try {
      for (const [origin, host] of [
        ['http://127.0.0.1:1', '127.0.0.1:1'],
        ['http://storage.invalid', 'storage.invalid'],
      ] as const) {
        hub.faults.redirectOrigin = origin;
        const r = await msting(['models', 'download', 'big'], { STING_MODELS_DIR: join(work.dir, 'blocked') });
        expect(r.code).toBe(5);
        expect(r.stderr).toContain(`cannot reach ${host}, the storage host the hub sends this download to`);
        expect(r.stderr).toMatch(new RegExp(`hint: the hub \\(127\\.0\\.0\\.1:\\d+\\) answers but its storage host does not: allow ${host.replace(/\./g, '\\.')}`));
      }
    } finally {
      hub.faults.redirectOrigin = undefined;
    }
  });

  it('reports a gated model: which model, where to accept the license, which token scope', async () => {
    const anon = await msting(['models', 'download', 'gated']);
    expect(anon.code).toBe(5);
    expect(anon.stderr).toContain('model gated (acme/gated) is gated');
    expect(anon.stderr).toContain('https://huggingface.co/acme/gated');
    expect(anon.stderr).toContain('"read" scope');
    const withToken = await msting(['models', 'download', 'gated'], { HF_TOKEN: GOOD_TOKEN });
    expect(withToken.code).toBe(5);
    expect(withToken.stderr).toContain('this token has no access');
    const json = await msting(['--json', 'models', 'download', 'gated']);
    // NDJSON progress lines, then the error document.
    expect(JSON.parse(json.stdout.slice(json.stdout.indexOf('{\n')))).toMatchObject({ error: { code: 'HUB_GATED' } });
  });

  it('tells a missing repository apart from a rejected token', async () => {
    const missing = await msting(['models', 'download', 'nowhere']);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('model nowhere (acme/nowhere) was not found');
    const badToken = await msting(['models', 'download', 'tiny'], { HF_TOKEN: 'hf_wrong', STING_MODELS_DIR: join(work.dir, 'other-models') });
    expect(badToken.code).toBe(5);
    expect(badToken.stderr).toContain('rejected the Hugging Face token (401)');
    expect(badToken.stderr).toContain('from HF_TOKEN');
    expect(badToken.stderr).not.toContain('hf_wrong');
  });

  it('honours Retry-After on 429, and gives up with the hub\'s answer when it persists', async () => {
    hub.faults.rateLimit = { count: 1, retryAfter: 1 };
    const began = Date.now();
    const ok = await msting(['models', 'download', 'tiny'], { STING_MODELS_DIR: join(work.dir, 'm429') });
    expect(ok.code).toBe(0);
    expect(Date.now() - began).toBeGreaterThanOrEqual(1000);
    hub.faults.rateLimit = { count: 100, retryAfter: 1 };
    const limited = await msting(['models', 'download', 'tiny'], { STING_MODELS_DIR: join(work.dir, 'm429b'), MSTING_DOWNLOAD_RETRIES: '1' });
    hub.faults.rateLimit = { count: 0, retryAfter: 1 };
    expect(limited.code).toBe(5);
    expect(limited.stderr).toContain('rate limiting requests for model tiny (acme/tiny) (429); it asks to wait 1 s');
  });

  it('fails before downloading when the model does not fit on disk (exit 4, with the numbers)', async () => {
    // The hub announces a 1 PiB file (tree size and X-Linked-Size), more than any test disk has free.
    hub.resetStats();
    const r = await msting(['models', 'download', 'huge']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('not enough disk space');
    expect(r.stderr).toMatch(/still to download: 1\.0 PiB/);
    expect(r.stderr).toMatch(/free on .*: [\d.]+ [KMGT]?i?B/);
    expect(hub.stats.requests.filter((q) => q.origin === 'storage')).toHaveLength(0);
  });

  it('offline mode uses what is there, verifies it, and names what is missing', async () => {
    hub.resetStats();
    const ok = await msting(['--json', 'models', 'download', 'tiny'], { HF_HUB_OFFLINE: '1' });
    expect(ok.code).toBe(0);
    expect(hub.stats.requests).toHaveLength(0);
    // NDJSON: every line one event with the documented keys, the last one the result.
    const lines = ok.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, -1).every((e) => ['model', 'file', 'bytes', 'total', 'rate', 'state', 'at'].every((k) => k in e))).toBe(true);
    expect(lines.at(-1)).toMatchObject({ event: 'result', models: [{ name: 'tiny', state: 'verified', fetched: 0 }] });
    const missing = await msting(['models', 'download', 'tiny'], { HF_HUB_OFFLINE: '1', STING_MODELS_DIR: join(work.dir, 'empty') });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('HF_HUB_OFFLINE is set and tiny is not complete on disk');
    expect(hub.stats.requests).toHaveLength(0);
  });

  it('verify catches a corrupted file on disk; download repairs it; remove frees the space', async () => {
    const root = join(work.dir, 'models', 'models--acme--tiny');
    const blob = (await readdir(join(root, 'blobs'))).find((b) => b.length === 64)!;
    const data = await readFile(join(root, 'blobs', blob));
    data[12345] = (data[12345] ?? 0) ^ 1;
    await writeFile(join(root, 'blobs', blob), data);
    const verify = await msting(['models', 'verify', 'tiny']);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/model-0000[12]-of-00002\.safetensors: corrupt \(deleted\)/);
    hub.resetStats();
    const repair = await msting(['models', 'download', 'tiny']);
    expect(repair.code).toBe(0);
    expect(hub.stats.bytesServed).toBe(data.length);
    const refused = await msting(['models', 'remove', 'tiny']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    const removed = await msting(['models', 'remove', 'tiny', '--yes']);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(/removed tiny \(acme\/tiny\), freed 11\.\d MiB/);
    expect(existsSync(root)).toBe(false);
  });

  it('Ctrl-C stops with exit 130 and keeps the partial; the next run resumes it', async () => {
    const dir = join(work.dir, 'models-sigint');
    hub.faults.rateCap = 2 * MiB;
    const run = start(['models', 'download', 'big'], { STING_MODELS_DIR: dir, MSTING_DOWNLOAD_CONNECTIONS: '2' });
    const blobs = join(dir, 'models--acme--big', 'blobs');
    // Interrupted once the download has recorded bytes, however long a busy machine takes to get there.
    await until(async () => (await recorded(blobs)) > 0, 'the download records bytes');
    run.child.kill('SIGINT');
    const stopped = await run.done;
    hub.faults.rateCap = 0;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain('interrupted');
    const kept = await recorded(blobs);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(BIG);
    hub.resetStats();
    const again = await msting(['models', 'download', 'big'], { STING_MODELS_DIR: dir });
    expect(again.code).toBe(0);
    expect(hub.stats.byPath['model.safetensors']).toBe(BIG - kept);
  });

  it('goes through HTTP_PROXY when set, and around it for NO_PROXY hosts', async () => {
    // undici tunnels through the proxy with CONNECT (for http:// targets too); plain forwarding is kept for other clients.
    const proxy = await startProxy();
    const { seen } = proxy;
    const proxyUrl = proxy.url;
    try {
      const via = await msting(['models', 'download', 'tiny'], { STING_MODELS_DIR: join(work.dir, 'proxied'), HTTP_PROXY: proxyUrl });
      expect(via.code).toBe(0);
      expect(seen).toContain(`CONNECT ${new URL(hub.url).host}`);
      expect(seen).toContain(`CONNECT ${new URL(hub.storageUrl).host}`);
      seen.length = 0;
      const around = await msting(['models', 'download', 'tiny'], { STING_MODELS_DIR: join(work.dir, 'unproxied'), HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' });
      expect(around.code).toBe(0);
      expect(seen).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('two runs at once never write the same file: the second waits for the first', async () => {
    const dir = join(work.dir, 'models-twice');
    hub.resetStats();
    // The first is held back until the second waits for it, however long a busy machine takes.
    hub.faults.rateCap = 256 * 1024;
    const a = start(['models', 'download', 'big'], { STING_MODELS_DIR: dir });
    // Start the second once the first holds the file (its lock and partial exist).
    const locks = join(dir, '.locks', 'models--acme--big');
    await until(async () => existsSync(locks) && (await readdir(locks)).length > 0, 'the first run holds the lock');
    const b = start(['models', 'download', 'big'], { STING_MODELS_DIR: dir });
    let secondSays = '';
    b.child.stderr!.on('data', (d: Buffer) => (secondSays += d.toString()));
    await until(() => secondSays.includes('waiting (another msting'), 'the second run waits for the first');
    hub.faults.rateCap = 0;
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.code).toBe(0);
    expect(rb.code).toBe(0);
    expect(rb.stderr).toMatch(/waiting \(another msting \(pid \d+/);
    expect(hub.stats.byPath['model.safetensors']).toBe(BIG);
  });
});
