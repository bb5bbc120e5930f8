import { mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadModels } from '../../../src/models/download.js';
import type { ProgressEvent } from '../../../src/models/progress.js';
import { startHub, type HubServer } from '../../hub-server/server.js';
import { content, modelsConfig, sha256, tempDir } from './helpers.js';

const MiB = 1024 * 1024;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(files = defaultFiles(), extra: Partial<Parameters<typeof startHub>[0]> = {}): Promise<{ hub: HubServer; dir: string }> {
  const hub = await startHub({ repos: [{ repo: 'acme/tiny', files }], ...extra });
  const tmp = await tempDir('dl');
  cleanups.push(() => hub.close(), tmp.cleanup);
  return { hub, dir: tmp.dir };
}

function defaultFiles() {
  return [
    { path: 'config.json', data: Buffer.from('{"model_type":"llama"}\n') },
    { path: 'tokenizer/tokenizer.json', data: content(40_000, 2) },
    { path: 'model-00001.safetensors', data: content(9 * MiB + 123, 3), lfs: true },
    { path: 'original/consolidated.pth', data: content(2 * MiB, 4), lfs: true },
  ];
}

// The worker-thread hasher here; the CLI tests run the default (a pass at the end on two cores).
const tuning = { chunkSize: 1 * MiB, connectionsPerFile: 4, retryBaseMs: 20, stallTimeoutMs: 1500, hashMode: 'inorder' as const };

function run(hub: HubServer, dir: string, extraEnv: Record<string, string> = {}, events: ProgressEvent[] = []) {
  return downloadModels({
    config: modelsConfig([{ name: 'tiny', repo: 'acme/tiny', exclude: ['original/**'] }]),
    modelsDir: dir,
    env: { HF_ENDPOINT: hub.url, ...extraEnv },
    signal: new AbortController().signal,
    onProgress: (e) => events.push(e),
    tuning,
  });
}

describe('downloadModels against a local hub', () => {
  it('lays the model out as a Hugging Face cache, verified, honouring exclude', async () => {
    const { hub, dir } = await setup();
    const events: ProgressEvent[] = [];
    const [result] = await run(hub, dir, {}, events);
    const root = join(dir, 'models--acme--tiny');
    const commit = (await readFile(join(root, 'refs', 'main'), 'utf8')).trim();
    expect(result!.commit).toBe(commit);
    expect(result!.files).toBe(3);
    const weights = content(9 * MiB + 123, 3);
    const link = join(root, 'snapshots', commit, 'model-00001.safetensors');
    expect(await readlink(link)).toBe(`../../blobs/${sha256(weights)}`);
    expect(sha256(await readFile(link))).toBe(sha256(weights));
    expect(await readlink(join(root, 'snapshots', commit, 'tokenizer', 'tokenizer.json'))).toMatch(/^\.\.\/\.\.\/\.\.\/blobs\/[0-9a-f]{40}$/);
    await expect(stat(join(root, 'snapshots', commit, 'original'))).rejects.toThrow();
    expect(events.some((e) => e.state === 'verified' && e.file === 'model-00001.safetensors')).toBe(true);
    // A second run fetches nothing.
    hub.resetStats();
    const [again] = await run(hub, dir);
    expect(again!.fetched).toBe(0);
    expect(hub.stats.requests).toHaveLength(0);
  });

  it('retries a dropped connection and a stalled range, fetching only what was lost', async () => {
    const { hub, dir } = await setup();
    hub.faults.dropAt.push({ path: 'model-00001.safetensors', byte: 1 * MiB + 5000, times: 1 });
    hub.faults.stallAt.push({ path: 'model-00001.safetensors', byte: 5 * MiB + 10, times: 1 });
    const events: ProgressEvent[] = [];
    const [result] = await run(hub, dir, {}, events);
    expect(result!.state).toBe('verified');
    const served = hub.stats.byPath['model-00001.safetensors']!;
    expect(served).toBeLessThan(9 * MiB + 123 + 2 * MiB);
    expect(events.filter((e) => e.state === 'retrying').length).toBeGreaterThanOrEqual(2);
  });

  it('starts a file over when the server ignores Range, and when its ETag changes', async () => {
    const { hub, dir } = await setup();
    hub.faults.ignoreRange = true;
    const events: ProgressEvent[] = [];
    const [result] = await run(hub, dir, {}, events);
    expect(result!.state).toBe('verified');
    expect(events.some((e) => e.state === 'restarting' && /ignored the byte range/.test(e.message ?? ''))).toBe(true);
  });

  it('discards a partial whose storage ETag changed', async () => {
    const { hub, dir } = await setup();
    // First run dies on a drop with no retries left, leaving a partial.
    hub.faults.dropAt.push({ path: 'model-00001.safetensors', byte: 3 * MiB, times: 10 });
    await expect(
      downloadModels({
        config: modelsConfig([{ name: 'tiny', repo: 'acme/tiny', files: ['*.safetensors'] }]),
        modelsDir: dir,
        env: { HF_ENDPOINT: hub.url },
        signal: new AbortController().signal,
        tuning: { ...tuning, connectionsPerFile: 1, retries: 0 },
      }),
    ).rejects.toThrow(/failed after 1 attempts/);
    hub.faults.dropAt.length = 0;
    hub.changeEtag('model-00001.safetensors');
    hub.resetStats();
    const events: ProgressEvent[] = [];
    const [result] = await downloadModels({
      config: modelsConfig([{ name: 'tiny', repo: 'acme/tiny', files: ['*.safetensors'] }]),
      modelsDir: dir,
      env: { HF_ENDPOINT: hub.url },
      signal: new AbortController().signal,
      onProgress: (e) => events.push(e),
      tuning,
    });
    expect(result!.state).toBe('verified');
    expect(events.some((e) => e.state === 'restarting' && /new ETag/.test(e.message ?? ''))).toBe(true);
  });

  it('catches a corrupted byte, deletes the file and fetches it once more', async () => {
    const { hub, dir } = await setup();
    hub.faults.corruptAt.push({ path: 'model-00001.safetensors', byte: 7 * MiB + 3, times: 1 });
    const events: ProgressEvent[] = [];
    const [result] = await run(hub, dir, {}, events);
    expect(result!.state).toBe('verified');
    expect(events.some((e) => e.state === 'restarting' && /mismatch/.test(e.message ?? ''))).toBe(true);
  });

  it('fails naming the file when the corruption repeats', async () => {
    const { hub, dir } = await setup();
    hub.faults.corruptAt.push({ path: 'model-00001.safetensors', byte: 100, times: 2 });
    await expect(run(hub, dir)).rejects.toMatchObject({ code: 'INTEGRITY', message: expect.stringContaining('model-00001.safetensors') });
  });

  it('reuses an existing Hugging Face cache after checking it', async () => {
    const { hub, dir } = await setup();
    await run(hub, dir);
    // Drop msting's record: what is left is a plain HF cache another tool could have written.
    await writeFile(join(dir, '.msting', 'models', 'tiny.json'), '{}');
    hub.resetStats();
    const [result] = await run(hub, dir);
    expect(result!.fetched).toBe(0);
    expect(hub.stats.bytesServed).toBe(0);
  });

  it('after a reboot resumes from the synced record, not from bytes that only reached the page cache', async () => {
    const size = 9 * MiB + 123;
    const weights = content(size, 3);
    const { hub, dir } = await setup();
    const blobs = join(dir, 'models--acme--tiny', 'blobs');
    await mkdir(blobs, { recursive: true });
    const etag = sha256(weights);
    // Ranges of 1 MiB: the first two were synced; the next three were written but lost with the reboot.
    const partial = Buffer.alloc(size);
    weights.copy(partial, 0, 0, 2 * MiB);
    await writeFile(join(blobs, `${etag}.incomplete`), partial);
    const progress = Array.from({ length: 10 }, (_, i) => (i < 5 ? MiB : 0));
    const synced = Array.from({ length: 10 }, (_, i) => (i < 2 ? MiB : 0));
    await writeFile(join(blobs, `${etag}.incomplete.json`), JSON.stringify({ version: 1, size, etag: null, chunkSize: MiB, progress, synced, boot: 'an-earlier-boot' }));
    const [result] = await downloadModels({
      config: modelsConfig([{ name: 'tiny', repo: 'acme/tiny', files: ['*.safetensors'] }]),
      modelsDir: dir,
      env: { HF_ENDPOINT: hub.url },
      signal: new AbortController().signal,
      tuning,
    });
    expect(result!.state).toBe('verified');
    expect(hub.stats.byPath['model-00001.safetensors']).toBe(size - 2 * MiB);
  });

  // 9 MiB is hashed on the receiving thread as it arrives; from 32 MiB on, a worker follows the file.
  it.each([
    ['a small file', 9 * MiB + 123],
    ['a large file', 40 * MiB + 123],
  ])('resumes a parallel partial of %s with one connection, hashing the finished ranges from disk', async (_label, size) => {
    const { hub, dir } = await setup([{ path: 'model-00001.safetensors', data: content(size, 3), lfs: true }]);
    const config = modelsConfig([{ name: 'tiny', repo: 'acme/tiny', files: ['*.safetensors'] }]);
    // Range 1 (bytes 1-2 MiB) keeps dropping; the others finish, then the run gives up.
    hub.faults.dropAt.push({ path: 'model-00001.safetensors', byte: MiB + 1000, times: 5 });
    await expect(
      downloadModels({ config, modelsDir: dir, env: { HF_ENDPOINT: hub.url }, signal: new AbortController().signal, tuning: { ...tuning, retries: 0 } }),
    ).rejects.toThrow(/failed after 1 attempts/);
    hub.faults.dropAt.length = 0;
    hub.resetStats();
    const [result] = await downloadModels({ config, modelsDir: dir, env: { HF_ENDPOINT: hub.url }, signal: new AbortController().signal, tuning: { ...tuning, connectionsPerFile: 1 } });
    expect(result!.state).toBe('verified');
    // A digest that missed the finished ranges would mean a mismatch and a whole second download.
    expect(hub.stats.byPath['model-00001.safetensors']).toBeLessThan(size);
  });

  it('adds connections while each one is held to a rate, and stops adding when more bring nothing (a slow link)', async () => {
    const size = 24 * MiB;
    const weights = content(size, 31);
    const { hub, dir } = await setup([{ path: 'model.safetensors', data: weights, lfs: true }]);
    const fetch = (subdir: string) =>
      downloadModels({
        config: modelsConfig([{ name: 'tiny', repo: 'acme/tiny' }]),
        modelsDir: join(dir, subdir),
        env: { HF_ENDPOINT: hub.url },
        signal: new AbortController().signal,
        tuning: { ...tuning, connectionsPerFile: 8 },
      });
    // A CDN holding each connection to 2 MiB/s: two, four, then eight connections.
    hub.faults.rateCap = 2 * MiB;
    const [capped] = await fetch('per-connection');
    expect(capped!.state).toBe('verified');
    expect(hub.stats.peakConcurrentBodies).toBe(8);
    // A link that carries 8 MiB/s whatever the number of connections: four bring what two
    // brought, so it stays at four.
    hub.faults.rateCap = 0;
    hub.faults.totalRateCap = 8 * MiB;
    hub.resetStats();
    const [linked] = await fetch('per-link');
    expect(linked!.state).toBe('verified');
    expect(hub.stats.peakConcurrentBodies).toBe(4);
    expect(hub.stats.byPath['model.safetensors']).toBe(size);
  });
});
