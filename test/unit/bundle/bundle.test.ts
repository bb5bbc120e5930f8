import { createHash } from 'node:crypto';
import { write } from 'node:fs';
import { mkdtemp, open, readFile, readdir, readlink, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as tar from 'tar-stream';
import { fileHeader } from '../../../src/backup/archive.js';
import { checkRoom, createBundle, planBundle, type BundlePlan } from '../../../src/bundle/create.js';
import { configWithoutSecrets } from '../../../src/bundle/format.js';
import { readBundleHeader, verifyBundle } from '../../../src/bundle/read.js';
import { openBundleSource } from '../../../src/bundle/source.js';
import type { ImageArchive } from '../../../src/docker/image-archive.js';
import { MstingError } from '../../../src/errors.js';
import { repoPaths, snapshotFile } from '../../../src/models/cache-layout.js';
import { readModelState, writeModelState, type ModelState } from '../../../src/models/state.js';
import { layOutModel } from '../../support/model-cache.js';

/**
 * The bundle's format on real files, with a stand-in engine whose `docker save` stream is a known
 * byte sequence: create, verify, load; a bundle cut short, one altered byte, a bundle for another
 * profile or msting version (each refused before anything is loaded); a failure half-way leaves no file.
 */

// Not a multiple of 512: the images entry is padded.
const SAVED_BYTES = 4 * 1024 * 1024 + 12_345;

function savedStream(bytes = SAVED_BYTES): Readable {
  let left = bytes;
  let n = 0;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const size = Math.min(left, 65_536);
      // Every chunk differs (its number at the start, a fill that cycles): a byte out of place changes the hash.
      const chunk = Buffer.alloc(size, n % 251);
      chunk.writeUInt32LE(n++, 0);
      left -= size;
      this.push(chunk);
    },
  });
}

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

interface FakeEngine extends ImageArchive {
  loads: Buffer[];
}

function fakeEngine(failSave?: Error): FakeEngine {
  const loads: Buffer[] = [];
  return {
    loads,
    inspect: async (ref) => (ref.includes('absent') ? null : { id: `sha256:${sha(Buffer.from(ref))}`, size: 1000 }),
    // As `docker save` does: writes the stream to the bundle's descriptor in pieces, while msting reads it back.
    saveTo: async (_refs, fd) => {
      let sent = 0;
      for await (const chunk of savedStream()) {
        await new Promise<void>((resolve, reject) => write(fd, chunk as Buffer, (err) => (err ? reject(err) : resolve())));
        sent += (chunk as Buffer).length;
        if (failSave && sent > SAVED_BYTES / 2) throw failSave;
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
    load: async (source) => {
      const parts: Buffer[] = [];
      for await (const c of source) parts.push(c as Buffer);
      loads.push(Buffer.concat(parts));
      return ['example/app:1', 'example/db:2'];
    },
  };
}

let work: string;
let modelsDir: string;
let model: ModelState;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'msting-bundle-'));
  modelsDir = join(work, 'models-here');
  const commit = await layOutModel(modelsDir, 'org/tiny', 'main', { 'config.json': '{"a":1}', 'weights/w.bin': 'w'.repeat(5000) });
  const etag = (text: string) => createHash('sha256').update(text).digest('hex');
  model = {
    version: 1,
    name: 'tiny',
    repo: 'org/tiny',
    revision: 'main',
    commit,
    include: [],
    exclude: [],
    endpoint: 'https://huggingface.co',
    resolvedAt: '2025-01-01T00:00:00.000Z',
    files: [
      { path: 'config.json', size: 7, etag: etag('{"a":1}'), algorithm: 'sha256', verifiedAt: null, mtimeMs: null },
      { path: 'weights/w.bin', size: 5000, etag: etag('w'.repeat(5000)), algorithm: 'sha256', verifiedAt: null, mtimeMs: null },
    ],
  };
  await writeModelState(modelsDir, model);
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

function plan(profile = 'default', version = '1.2.3'): BundlePlan {
  return planBundle({
    profile,
    version,
    services: [
      { name: 'app', image: 'example/app:1' },
      { name: 'worker', image: 'example/app:1' },
      { name: 'db', image: 'example/db:2' },
    ],
    inspected: new Map([
      ['example/app:1', { id: 'sha256:aa', size: 3000 }],
      ['example/db:2', { id: 'sha256:bb', size: 4000 }],
    ]),
    models: [model],
    config: 'project:\n  name: demo\n',
  });
}

const fakePack = async (_root: string, dest: string): Promise<number> => {
  await writeFile(dest, 'a package');
  return 9;
};

async function makeBundle(engine = fakeEngine(), p = plan()): Promise<string> {
  const output = join(work, 'sting.tar');
  await createBundle(p, output, { images: engine, packageRoot: work, pack: fakePack, modelsDir, signal: new AbortController().signal });
  return output;
}

function openDeps(engine: ImageArchive, target: string) {
  return { version: '1.2.3', signal: new AbortController().signal, load: { images: engine, modelsDir: target, signal: new AbortController().signal } };
}

async function errorOf(p: Promise<unknown>): Promise<MstingError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MstingError);
  return err as MstingError;
}

describe('bundle create, verify and load', () => {
  it('writes header first and manifest last, verifies, and loads the exact save stream and the models', async () => {
    const file = await makeBundle();
    expect(await readdir(work)).toEqual(expect.arrayContaining(['sting.tar']));
    expect((await readdir(work)).filter((f) => f.includes('partial'))).toEqual([]);
    const header = await readBundleHeader(file);
    expect(header).toMatchObject({ format: 'msting-bundle', profile: 'default', msting: { version: '1.2.3' } });

    const report = await verifyBundle(file);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.config).toBe('project:\n  name: demo\n');
    const paths = report.manifest!.entries.map((e) => e.path);
    expect(paths[0]).toBe('bundle.json');
    expect(paths.filter((p) => p.startsWith('images/'))).toEqual(['images/part-000000']);
    expect(report.manifest!.entries.find((e) => e.path === 'images/part-000000')?.size).toBe(SAVED_BYTES);
    expect(paths).toContain('msting-1.2.3.tgz');
    expect(report.manifest!.images).toEqual([
      { reference: 'example/app:1', id: 'sha256:aa', size: 3000, services: ['app', 'worker'] },
      { reference: 'example/db:2', id: 'sha256:bb', size: 4000, services: ['db'] },
    ]);

    const engine = fakeEngine();
    const target = join(work, 'offline-models');
    const source = await openBundleSource(file, { version: '1.2.3', profile: 'default' }, openDeps(engine, target));
    const loaded = await source.load();
    expect(engine.loads).toHaveLength(1);
    const expected: Buffer[] = [];
    for await (const c of savedStream()) expected.push(c as Buffer);
    expect(sha(engine.loads[0]!)).toBe(sha(Buffer.concat(expected)));
    expect(loaded.models).toEqual([{ name: 'tiny', size: 5007 }]);
    const paths2 = repoPaths(target, 'org/tiny');
    expect(await readFile(snapshotFile(paths2, model.commit, 'weights/w.bin'), 'utf8')).toBe('w'.repeat(5000));
    expect(await readlink(snapshotFile(paths2, model.commit, 'config.json'))).toMatch(/^\.\.\/\.\.\/blobs\//);
    expect((await readModelState(target, 'tiny'))?.commit).toBe(model.commit);
  });

  it('a bundle cut short fails verification and loads nothing', async () => {
    const file = await makeBundle();
    await truncate(file, Math.floor((await stat(file)).size / 2));
    const report = await verifyBundle(file);
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/truncated|manifest\.json is missing/);
    const engine = fakeEngine();
    const err = await errorOf(openBundleSource(file, { version: '1.2.3', profile: 'default' }, openDeps(engine, join(work, 'm'))));
    expect(err.code).toBe('BUNDLE_INVALID');
    expect(err.exitCode).toBe(1);
    expect(err.hint).toMatch(/nothing was changed/);
    expect(engine.loads).toEqual([]);
  });

  it('one altered byte in the images is named, and nothing is loaded', async () => {
    const file = await makeBundle();
    const report = await verifyBundle(file);
    // The images' data starts after their tar header: find it by scanning.
    const handle = await open(file, 'r+');
    const whole = await readFile(file);
    const at = whole.indexOf(Buffer.from('images/part-000000')) + 512 + 1_000_000;
    await handle.write(Buffer.from([whole[at]! ^ 0xff]), 0, 1, at);
    await handle.close();
    expect(report.ok).toBe(true);
    const after = await verifyBundle(file);
    expect(after.ok).toBe(false);
    expect(after.problems).toEqual(['images/part-000000 does not match its SHA-256 in the manifest']);
    const engine = fakeEngine();
    const err = await errorOf(openBundleSource(file, { version: '1.2.3', profile: 'default' }, openDeps(engine, join(work, 'm'))));
    expect(err.message).toMatch(/did not verify: images\/part-000000 does not match/);
    expect(engine.loads).toEqual([]);
  });

  it('a bundle for another profile or another msting version is refused from its header, with exit 4', async () => {
    const file = await makeBundle();
    const engine = fakeEngine();
    const profile = await errorOf(openBundleSource(file, { version: '1.2.3', profile: 'full' }, openDeps(engine, join(work, 'm'))));
    expect(profile.code).toBe('BUNDLE_MISMATCH');
    expect(profile.exitCode).toBe(4);
    expect(profile.message).toMatch(/holds the images of profile default, not full/);
    expect(profile.hint).toMatch(/--profile default/);
    const version = await errorOf(openBundleSource(file, { version: '2.0.0', profile: 'default' }, { ...openDeps(engine, join(work, 'm')), version: '2.0.0' }));
    expect(version.message).toMatch(/made by msting 1\.2\.3; this is msting 2\.0\.0/);
    expect(version.hint).toMatch(/npm install -g \.\/msting-1\.2\.3\.tgz/);
    expect(engine.loads).toEqual([]);
  });

  it('a file that is not a bundle says so', async () => {
    const file = join(work, 'other.tar');
    await writeFile(file, 'hello');
    const err = await errorOf(readBundleHeader(file));
    expect(err.message).toMatch(/is not an msting bundle: it is not a tar file/);
  });

  it('a failure half-way (the engine breaks off, the disk runs full) leaves neither the bundle nor a partial file', async () => {
    const broken = await errorOf(makeBundle(fakeEngine(new MstingError('EXTERNAL', 'Docker failed while saving images: engine went away'))));
    expect(broken.message).toMatch(/engine went away|Docker/);
    expect(await readdir(work)).toEqual(['models-here']);
    const full = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    const err = await errorOf(makeBundle(fakeEngine(full)));
    expect(err.message).toMatch(/the disk ran full while writing .*sting\.tar; the partial bundle was removed/);
    expect(await readdir(work)).toEqual(['models-here']);
  });
});

describe('bundle planning', () => {
  it('refuses images that are not on this machine, naming them and their services', () => {
    expect(() =>
      planBundle({ profile: 'default', version: '1', services: [{ name: 'app', image: 'x/absent:1' }], inspected: new Map([['x/absent:1', null]]), models: [], config: '' }),
    ).toThrow(/1 image of the profile is not on this machine: x\/absent:1/);
  });

  it('refuses before writing when the estimate does not fit, saying how much is free', () => {
    const p = plan();
    expect(() => checkRoom(p, '/mnt/usb/sting.tar', { free: 10 * 1024 * 1024, checked: '/mnt/usb' })).toThrow(/not enough disk space for the bundle in \/mnt\/usb/);
    expect(() => checkRoom(p, '/mnt/usb/sting.tar', { free: 10 * 1024 ** 3, checked: '/mnt/usb' })).not.toThrow();
  });

  it('an images entry beyond the 8 GiB of a ustar size field gets a header tar readers size right', async () => {
    const size = 9 * 1024 ** 3 + 7;
    const block = await fileHeader({ name: 'images/part-000000', size, mode: 0o644, mtime: new Date(0) });
    const extract = tar.extract();
    const seen = new Promise<tar.Header>((resolve) => extract.once('entry', (header) => resolve(header)));
    extract.write(block);
    const header = await seen;
    extract.destroy();
    expect(header).toMatchObject({ name: 'images/part-000000', size, type: 'file', mode: 0o644 });
  });

  it('config.yml loses its secrets and keeps everything else', () => {
    const text = [
      '# the site config',
      'project:',
      '  name: demo',
      'mail:',
      '  password: hunter2',
      '  relay: smtp://user:s3cret@mail.example.com:587',
      '  api_key: vault-ref:secret/mail#key',
      '',
    ].join('\n');
    const out = configWithoutSecrets(text);
    expect(out).not.toMatch(/hunter2|s3cret/);
    expect(out).toMatch(/# the site config/);
    expect(out).toMatch(/relay: smtp:\/\/user@mail\.example\.com:587/);
    expect(out).toMatch(/api_key: vault-ref:secret\/mail#key/);
  });
});
