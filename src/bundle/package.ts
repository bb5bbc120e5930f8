import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { ArchiveWriter } from '../backup/archive.js';
import { MstingError } from '../errors.js';

/**
 * msting's own npm package, as `npm pack` lays it out (`package/...` in a gzipped tar), with its
 * runtime dependencies inside (`bundleDependencies`), so `npm install -g ./msting-<version>.tgz`
 * works on a host with no registry. dist/ bundles only zod, yaml, commander, undici and execa; the other
 * dependencies (dockerode, node-vault, @huggingface/hub, ...) load from node_modules at run time.
 * Built from the running msting's own package root, so an installed msting packs itself too.
 */

interface PackageJson {
  name: string;
  version: string;
  files?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

async function readJson(path: string): Promise<PackageJson> {
  return JSON.parse(await readFile(path, 'utf8')) as PackageJson;
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** Where Node would find `name` from `from`: the nearest node_modules/<name> up the tree. */
async function resolveFrom(from: string, name: string): Promise<{ dir: string; base: string } | null> {
  let dir = from;
  for (;;) {
    const candidate = join(dir, 'node_modules', name);
    if (await stat(join(candidate, 'package.json')).then(() => true, () => false)) return { dir: candidate, base: dir };
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * The runtime dependency tree of the package at `root`: source directory → its place in the
 * package (node_modules/<name>, or nested under the dependency that needs its own copy).
 */
export async function dependencyPlaces(root: string): Promise<Map<string, string>> {
  const places = new Map<string, string>();
  const taken = new Set<string>();
  const visit = async (from: string, pkg: PackageJson): Promise<void> => {
    const optional = pkg.optionalDependencies ?? {};
    for (const name of Object.keys({ ...pkg.dependencies, ...optional })) {
      const found = await resolveFrom(from, name);
      if (!found) {
        if (name in optional) continue;
        throw new MstingError('FAILURE', `cannot pack msting: its dependency ${name} is not installed next to it`, {
          hint: 'reinstall msting (npm install -g msting), or run `npm ci` in its source tree',
        });
      }
      if (places.has(found.dir)) continue;
      // Found at or above the package root: the package's top-level node_modules; below it: nested as found.
      const inside = relative(root, found.base);
      const place = inside === '' || inside.startsWith('..') ? join('node_modules', name) : join(inside, 'node_modules', name);
      if (taken.has(place)) continue;
      taken.add(place);
      places.set(found.dir, place);
      await visit(found.dir, await readJson(join(found.dir, 'package.json')));
    }
  };
  await visit(root, await readJson(join(root, 'package.json')));
  return places;
}

/** Every file under `dir` (links followed), `node_modules` folders left out: they are packed as dependencies. */
async function* filesUnder(dir: string, skipNodeModules: boolean): AsyncGenerator<string> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (skipNodeModules && e.name === 'node_modules') continue;
    const path = join(dir, e.name);
    if (e.isDirectory() || (e.isSymbolicLink() && (await isDir(path)))) yield* filesUnder(path, skipNodeModules);
    else if (e.isFile() || (e.isSymbolicLink() && (await stat(path).then(() => true, () => false)))) yield path;
  }
}

/**
 * Write the package with its dependencies to `dest` (a .tgz). Returns its size in bytes.
 */
export async function packSelf(root: string, dest: string, signal: AbortSignal): Promise<number> {
  const pkg = await readJson(join(root, 'package.json'));
  const places = await dependencyPlaces(root);
  const manifest: PackageJson = { ...pkg, bundleDependencies: Object.keys(pkg.dependencies ?? {}).sort() };
  // Nothing to build or run at install time: dist/ is built.
  delete manifest.scripts;
  delete manifest.devDependencies;

  const writer = new ArchiveWriter();
  const written = pipeline(writer.pack, createGzip({ level: 1 }), createWriteStream(dest, { mode: 0o644 }), { signal });
  written.catch(() => undefined);
  const mtime = new Date('1985-10-26T08:15:00Z');
  const addFile = async (source: string, name: string): Promise<void> => {
    signal.throwIfAborted();
    const s = await stat(source);
    const header = { mode: s.mode & 0o111 ? 0o755 : 0o644, mtime };
    const entry = `package/${name.split(sep).join('/')}`;
    // Most files are small: one read each is far cheaper than a stream each.
    if (s.size < 1024 * 1024) await writer.addBuffer(entry, await readFile(source), header);
    else await writer.addStream(entry, s.size, createReadStream(source), header);
  };
  await writer.addBuffer('package/package.json', Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), { mode: 0o644, mtime });
  for (const entry of pkg.files ?? []) {
    const path = join(root, entry.replace(/\/+$/, ''));
    if (await isDir(path)) for await (const file of filesUnder(path, true)) await addFile(file, relative(root, file));
    else if (await stat(path).then(() => true, () => false)) await addFile(path, relative(root, path));
  }
  for (const [dir, place] of [...places].sort((a, b) => (a[1] < b[1] ? -1 : 1))) {
    for await (const file of filesUnder(dir, true)) await addFile(file, join(place, relative(dir, file)));
  }
  writer.pack.finalize();
  await written;
  return (await stat(dest)).size;
}

/**
 * packSelf, kept per build in `cacheDir` (`~/.cache/msting`): the package of one msting build
 * never changes, and packing its few thousand files takes seconds. A cache that cannot be
 * written costs nothing but the time.
 */
export function cachedPack(cacheDir: string, build: string): (root: string, dest: string, signal: AbortSignal) => Promise<number> {
  const cached = join(cacheDir, `package-${build.replace(/[^A-Za-z0-9._-]/g, '_')}.tgz`);
  return async (root, dest, signal) => {
    const hit = await copyFile(cached, dest).then(
      () => true,
      () => false,
    );
    if (hit) return (await stat(dest)).size;
    const size = await packSelf(root, dest, signal);
    await mkdir(cacheDir, { recursive: true })
      .then(() => copyFile(dest, `${cached}.${process.pid}.tmp`))
      .then(() => rename(`${cached}.${process.pid}.tmp`, cached))
      .catch(() => rm(`${cached}.${process.pid}.tmp`, { force: true }));
    return size;
  };
}
