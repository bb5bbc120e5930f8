import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { configSchema } from '../../../src/config/schema.js';
import { repoFolderName, repoPaths, symlinkTarget } from '../../../src/models/cache-layout.js';
import { formatBytes } from '../../../src/bytes.js';
import { checkDiskSpace, diskMargin } from '../../../src/models/disk.js';
import { acquireLock, type LockHolder } from '../../../src/models/lock.js';
import { selectModels } from '../../../src/models/select.js';
import { inspectModel, writeModelState, stateFromListing } from '../../../src/models/state.js';
import { hashFile } from '../../../src/models/hashing.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
async function dir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'msting-models-unit-'));
  cleanups.push(() => rm(d, { recursive: true, force: true }));
  return d;
}
const config = configSchema.parse({ llm: { models: [{ name: 'tiny', repo: 'acme/tiny' }, { name: 'off', repo: 'acme/off', enabled: false }] } });
const model = config.llm.models[0]!;
const COMMIT = 'c'.repeat(40);

describe('Hugging Face cache layout', () => {
  it('names folders and relative links as huggingface_hub does', () => {
    expect(repoFolderName('meta-llama/Llama-3.1-8B')).toBe('models--meta-llama--Llama-3.1-8B');
    const p = repoPaths('/m', 'acme/tiny');
    expect(symlinkTarget(p, COMMIT, 'config.json', 'e'.repeat(40))).toBe(`../../blobs/${'e'.repeat(40)}`);
    expect(symlinkTarget(p, COMMIT, 'a/b/c.json', 'e'.repeat(40))).toBe(`../../../../blobs/${'e'.repeat(40)}`);
  });
});

describe('model state on disk', () => {
  it('goes missing → partial with percent → complete', async () => {
    const d = await dir();
    expect((await inspectModel(d, model)).state).toBe('missing');
    const files = [
      { path: 'a.bin', size: 1000, etag: 'a'.repeat(64), algorithm: 'sha256' as const },
      { path: 'b.bin', size: 3000, etag: 'b'.repeat(64), algorithm: 'sha256' as const },
    ];
    await writeModelState(d, stateFromListing(model, COMMIT, files, 'https://huggingface.co'));
    const p = repoPaths(d, model.repo);
    await mkdir(p.blobs, { recursive: true });
    await writeFile(join(p.blobs, `${'b'.repeat(64)}.incomplete`), Buffer.alloc(3000));
    await writeFile(join(p.blobs, `${'b'.repeat(64)}.incomplete.json`), JSON.stringify({ size: 3000, progress: [1000, 500] }));
    const partial = await inspectModel(d, model);
    expect(partial).toMatchObject({ state: 'partial', size: 4000, have: 1500, percent: 37.5 });
    await writeFile(join(p.blobs, 'a'.repeat(64)), Buffer.alloc(1000));
    await writeFile(join(p.blobs, 'b'.repeat(64)), Buffer.alloc(3000));
    await mkdir(join(p.snapshots, COMMIT), { recursive: true });
    await symlink(`../../blobs/${'a'.repeat(64)}`, join(p.snapshots, COMMIT, 'a.bin'));
    await symlink(`../../blobs/${'b'.repeat(64)}`, join(p.snapshots, COMMIT, 'b.bin'));
    expect((await inspectModel(d, model)).state).toBe('complete');
  });

  it('reads a cache another tool wrote (refs + snapshot links), taking blob names as digests', async () => {
    const d = await dir();
    const p = repoPaths(d, model.repo);
    const data = Buffer.from('{"a":1}\n');
    const sha1 = createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
    await mkdir(p.blobs, { recursive: true });
    await mkdir(join(p.snapshots, COMMIT), { recursive: true });
    await mkdir(p.refs, { recursive: true });
    await writeFile(join(p.refs, 'main'), COMMIT);
    await writeFile(join(p.blobs, sha1), data);
    await symlink(`../../blobs/${sha1}`, join(p.snapshots, COMMIT, 'config.json'));
    const found = await inspectModel(d, model);
    expect(found).toMatchObject({ state: 'complete', commit: COMMIT, size: data.length });
    expect(await hashFile(join(p.blobs, sha1), 'git-sha1', data.length)).toBe(sha1);
  });
});

describe('one writer per file', () => {
  it('makes a second writer wait until the first releases', async () => {
    const d = await dir();
    const path = join(d, 'x.lock');
    const first = await acquireLock(path, { signal: new AbortController().signal });
    let second = false;
    let told: (holder: LockHolder) => void = () => undefined;
    const waitsFor = new Promise<LockHolder>((r) => (told = r));
    const waiting = acquireLock(path, { signal: new AbortController().signal, pollMs: 20, onWait: (h) => told(h) }).then((l) => {
      second = true;
      return l;
    });
    // The second says whom it waits for (what `models download` prints), and does not get the lock meanwhile.
    expect((await waitsFor).pid).toBe(process.pid);
    expect(second).toBe(false);
    await first.release();
    await (await waiting).release();
    expect(second).toBe(true);
  });
  it('takes over a lock whose process is gone, without waiting for it', async () => {
    const d = await dir();
    const path = join(d, 'y.lock');
    const { hostname } = await import('node:os');
    await writeFile(path, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), at: new Date().toISOString() }));
    let waited = false;
    // A lock that is not taken over makes acquireLock wait: the signal ends that wait with an error.
    const lock = await acquireLock(path, { signal: AbortSignal.timeout(10_000), pollMs: 20, onWait: () => (waited = true) });
    expect(waited).toBe(false);
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    await lock.release();
    expect(existsSync(path)).toBe(false);
  });
});

describe('disk and selection', () => {
  it('fails early with the numbers when the download does not fit', async () => {
    const d = await dir();
    await expect(checkDiskSpace(d, 2 ** 55)).rejects.toMatchObject({ code: 'PREFLIGHT', exitCode: 4, details: expect.arrayContaining([expect.stringMatching(/still to download: 32\.0 PiB/)]) });
    await expect(checkDiskSpace(d, 1)).resolves.toBeUndefined();
    expect(diskMargin(10)).toBe(1024 ** 3);
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });
  it('downloads the enabled models by default and refuses unknown names', () => {
    expect(selectModels(config, [], 'enabled').map((m) => m.name)).toEqual(['tiny']);
    expect(selectModels(config, ['off'], 'enabled').map((m) => m.name)).toEqual(['off']);
    expect(() => selectModels(config, ['nope'], 'enabled')).toThrow(/no model named "nope".*tiny, off/);
  });
});
