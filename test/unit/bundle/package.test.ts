import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { createReadStream } from 'node:fs';
import * as tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedPack, packSelf } from '../../../src/bundle/package.js';

/**
 * msting's package as the bundle carries it: `package/...` like `npm pack`, the runtime
 * dependencies inside (each where Node would find it, a nested copy kept nested) and declared in
 * bundleDependencies so npm installs them from the tarball; no scripts, no devDependencies.
 */

let work: string;

async function put(path: string, text: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
}

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'msting-pack-'));
  const root = join(work, 'msting');
  await put(join(root, 'package.json'), JSON.stringify({ name: 'msting', version: '9.9.9', files: ['bin/', 'dist/'], scripts: { prepack: 'x' }, dependencies: { a: '1' }, devDependencies: { dev: '1' } }));
  await put(join(root, 'bin', 'msting.js'), '#!/usr/bin/env node\n');
  await put(join(root, 'dist', 'cli.js'), 'export {};\n');
  await put(join(root, 'src', 'cli.ts'), 'not shipped');
  await put(join(root, 'node_modules', 'a', 'package.json'), JSON.stringify({ name: 'a', dependencies: { b: '2' }, optionalDependencies: { gone: '1' } }));
  await put(join(root, 'node_modules', 'a', 'index.js'), 'a');
  await put(join(root, 'node_modules', 'a', 'node_modules', 'b', 'package.json'), JSON.stringify({ name: 'b', version: '2' }));
  await put(join(root, 'node_modules', 'b', 'package.json'), JSON.stringify({ name: 'b', version: '1' }));
  await put(join(root, 'node_modules', 'dev', 'package.json'), JSON.stringify({ name: 'dev' }));
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function listing(file: string): Promise<Map<string, string>> {
  const extract = tar.extract();
  createReadStream(file).pipe(createGunzip()).pipe(extract as unknown as NodeJS.WritableStream);
  const out = new Map<string, string>();
  for await (const entry of extract) {
    const parts: Buffer[] = [];
    for await (const c of entry) parts.push(c as Buffer);
    out.set(entry.header.name, Buffer.concat(parts).toString());
  }
  return out;
}

describe('the npm package in the bundle', () => {
  it('holds the shipped files and the runtime dependency tree, declared as bundled', async () => {
    const dest = join(work, 'msting-9.9.9.tgz');
    await packSelf(join(work, 'msting'), dest, new AbortController().signal);
    const files = await listing(dest);
    expect([...files.keys()].sort()).toEqual([
      'package/bin/msting.js',
      'package/dist/cli.js',
      'package/node_modules/a/index.js',
      'package/node_modules/a/node_modules/b/package.json',
      'package/node_modules/a/package.json',
      'package/package.json',
    ]);
    const manifest = JSON.parse(files.get('package/package.json')!) as Record<string, unknown>;
    expect(manifest.bundleDependencies).toEqual(['a']);
    expect(manifest.scripts).toBeUndefined();
    expect(manifest.devDependencies).toBeUndefined();
  });

  it('is packed once per build and taken from the cache after', async () => {
    const pack = cachedPack(join(work, 'cache'), '9.9.9+abc');
    await pack(join(work, 'msting'), join(work, 'one.tgz'), new AbortController().signal);
    await rm(join(work, 'msting', 'dist'), { recursive: true });
    await pack(join(work, 'msting'), join(work, 'two.tgz'), new AbortController().signal);
    expect(await readFile(join(work, 'two.tgz'))).toEqual(await readFile(join(work, 'one.tgz')));
  });

  it('names a runtime dependency that is not installed', async () => {
    await rm(join(work, 'msting', 'node_modules', 'a'), { recursive: true });
    await expect(packSelf(join(work, 'msting'), join(work, 'x.tgz'), new AbortController().signal)).rejects.toThrow(/its dependency a is not installed/);
  });
});
