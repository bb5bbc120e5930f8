import { createHash } from 'node:crypto';
import { createReadStream, type WriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { formatBytes } from '../bytes.js';
import { compareText } from '../compare.js';
import { ArchiveWriter, fileHeader, leadingEntries } from '../backup/archive.js';
import { syncDir } from '../backup/fs.js';
import type { ImageArchive } from '../docker/image-archive.js';
import { MstingError, isMstingError } from '../errors.js';
import { openFlushingFile } from '../files/flushing-file.js';
import { followFile } from '../files/follow.js';
import { blobPath, repoFolderName, repoPaths } from '../models/cache-layout.js';
import type { ModelState } from '../models/state.js';
import {
  CONFIG_PATH,
  HEADER_PATH,
  MANIFEST_PATH,
  MODELS_DIR,
  bundleHeader,
  imagePartPath,
  packagePath,
  type BundleImage,
  type BundleManifest,
} from './format.js';

/**
 * `msting bundle create`: plan (which images, which models, how big), check free disk, then
 * stream everything into FILE.partial and rename it to FILE once the manifest closes it. A run
 * that fails removes its partial file; one that is killed leaves FILE.partial, which neither
 * looks like nor verifies as a bundle (no manifest), and the next run replaces.
 */

export interface BundlePlan {
  profile: string;
  version: string;
  images: BundleImage[];
  models: ModelState[];
  /** config.yml with its secrets removed. */
  config: string;
  /** What the bundle will take on disk, at most. */
  estimateBytes: number;
}

/** What the npm package with its dependencies takes, about (for the disk estimate). */
export const PACKAGE_ESTIMATE = 64 * 1024 * 1024;

export interface PlanBundleInput {
  profile: string;
  version: string;
  /** Service → image reference, as the profile's render has them. */
  services: ReadonlyArray<{ name: string; image: string }>;
  /** What the engine says of each reference (null: not on this machine). */
  inspected: ReadonlyMap<string, { id: string; size: number } | null>;
  /** The models to carry (already checked complete), with their recorded state. */
  models: ModelState[];
  config: string;
}

/**
 * Pure: the images of the profile (each reference once, with its services), the models, and the
 * size estimate. Refuses when an image is not on this machine: a bundle is made where the stack
 * was installed (or pulled) with network.
 */
export function planBundle(input: PlanBundleInput): BundlePlan {
  const byImage = new Map<string, string[]>();
  for (const s of input.services) byImage.set(s.image, [...(byImage.get(s.image) ?? []), s.name]);
  const missing = [...byImage.keys()].filter((ref) => !input.inspected.get(ref));
  if (missing.length > 0) {
    throw new MstingError('PREFLIGHT', `${missing.length} image${missing.length === 1 ? ' of the profile is' : 's of the profile are'} not on this machine: ${missing.join(', ')}`, {
      details: missing.map((ref) => `${ref} (${(byImage.get(ref) ?? []).join(', ')})`),
      hint: `run \`msting install --profile ${input.profile}\` (or \`msting update\`) here first, where the registry is reachable; nothing was written`,
    });
  }
  const images = [...byImage]
    .map(([reference, services]): BundleImage => {
      const info = input.inspected.get(reference)!;
      return { reference, id: info.id, size: info.size, services: services.sort(compareText) };
    })
    .sort((a, b) => compareText(a.reference, b.reference));
  // Images that share an id are saved once; their layers overlap further, so this is an upper bound.
  const distinct = new Map(images.map((i) => [i.id, i.size]));
  const imageBytes = [...distinct.values()].reduce((a, b) => a + b, 0);
  const modelBytes = input.models.reduce((a, m) => a + m.files.reduce((b, f) => b + f.size, 0), 0);
  const models = input.models.map((m) => ({ ...m, files: m.files.map((f) => ({ ...f, verifiedAt: null, mtimeMs: null, verifiedBoot: null })) }));
  return {
    profile: input.profile,
    version: input.version,
    images,
    models,
    config: input.config,
    estimateBytes: imageBytes + modelBytes + PACKAGE_ESTIMATE + Buffer.byteLength(input.config) + 1024 * 1024,
  };
}

/** Room kept free beyond the bundle: 256 MiB or 2 % of it. */
export function bundleMargin(bytes: number): number {
  return Math.max(256 * 1024 * 1024, Math.ceil(bytes * 0.02));
}

/** Refuses before anything is written when the estimate (and the margin) does not fit where the bundle goes. */
export function checkRoom(plan: Pick<BundlePlan, 'estimateBytes'>, output: string, free: { free: number; checked: string }): void {
  const margin = bundleMargin(plan.estimateBytes);
  if (free.free >= plan.estimateBytes + margin) return;
  throw new MstingError('PREFLIGHT', `not enough disk space for the bundle in ${dirname(output)}`, {
    details: [
      `bundle, at most: ${formatBytes(plan.estimateBytes)}`,
      `margin kept free: ${formatBytes(margin)}`,
      `free on ${free.checked}: ${formatBytes(free.free)}`,
    ],
    hint: 'free some space, or write the bundle to a larger disk with --output; nothing was written',
  });
}

export type BundleStage = 'package' | 'config' | 'images' | 'models' | 'manifest';

export interface CreateBundleDeps {
  images: ImageArchive;
  /** The running msting's package root (package-info.ts). */
  packageRoot: string;
  /** Builds the npm package into a file (package.ts packSelf); returns its size. */
  pack(root: string, dest: string, signal: AbortSignal): Promise<number>;
  modelsDir: string;
  signal: AbortSignal;
  now?: () => Date;
  onStage?: (stage: BundleStage, detail: string) => void;
  onBytes?: (n: number) => void;
}

export interface CreateBundleResult {
  path: string;
  bytes: number;
  manifest: BundleManifest;
}

function diskFull(output: string, err: unknown): MstingError {
  return new MstingError('IO', `the disk ran full while writing ${output}; the partial bundle was removed`, {
    hint: 'free some space, or write the bundle to a larger disk with --output',
    cause: err,
  });
}

/** Write `data` through the stream and wait until it is in the file. */
function writeThrough(stream: WriteStream, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => stream.write(data, (err) => (err ? reject(err) : resolve())));
}

export async function createBundle(plan: BundlePlan, output: string, deps: CreateBundleDeps): Promise<CreateBundleResult> {
  const { signal } = deps;
  const partial = `${output}.partial`;
  const packageTmp = `${output}.partial.tgz`;
  const now = deps.now ?? (() => new Date());
  const created = now();
  const header = bundleHeader(plan.version, plan.profile, created);
  await rm(partial, { force: true });
  // Opened for appending: `docker save` writes its stream to the same descriptor (it inherits it),
  // between msting's writes. Written to disk as it grows (a background fdatasync every FLUSH_BYTES), so
  // the closing fsync does not wait for the whole bundle after the engine has finished.
  const file = await openFlushingFile(partial, { mode: 0o644, append: true });
  // Reads the save stream back as it lands (to hash it), then writes its tar header in place.
  const readBack = await open(partial, 'r+');
  const packAbort = new AbortController();
  const saveAbort = new AbortController();
  const stopPack = (): void => packAbort.abort();
  signal.addEventListener('abort', stopPack, { once: true });
  let saving: Promise<void> | undefined;
  let writer: ArchiveWriter | undefined;
  let written: Promise<void> | undefined;
  // A write error (ENOSPC) fails the file stream (the write that met it rejects too); the entry
  // being added waits on the pack, so stop it too.
  file.stream.on('error', (err) => writer?.pack.destroy(err));
  try {
    // The package is built (gzip, on a worker thread) while the engine saves the images.
    const packed = deps.pack(deps.packageRoot, packageTmp, packAbort.signal);
    packed.catch(() => undefined);

    deps.onStage?.('config', CONFIG_PATH);
    const head = await leadingEntries(async (w) => {
      await w.addBuffer(HEADER_PATH, Buffer.from(`${JSON.stringify(header, null, 2)}\n`), { mode: 0o644 });
      await w.addBuffer(CONFIG_PATH, Buffer.from(plan.config), { mode: 0o644 });
    }, deps.onBytes);
    // The images entry's header is written once its size is known; until then its 512 bytes are
    // zeros, which a tar reader takes for the end of the archive: a killed run's partial file ends
    // after config.yml, without a manifest.
    const imagesAt = head.bytes.length;
    await writeThrough(file.stream, Buffer.concat([head.bytes, Buffer.alloc(512)]));

    deps.onStage?.('images', `${plan.images.length} images`);
    const hash = createHash('sha256');
    saving = deps.images.saveTo(
      plan.images.map((i) => i.reference),
      file.fd,
      AbortSignal.any([signal, saveAbort.signal]),
    );
    saving.catch(() => undefined);
    const size = await followFile(
      readBack,
      imagesAt + 512,
      saving,
      (chunk) => {
        hash.update(chunk);
        deps.onBytes?.(chunk.length);
        file.grew(chunk.length);
        file.flushIfDue();
      },
      signal,
    );
    await saving;
    if (size === 0) throw new MstingError('EXTERNAL', 'docker save returned nothing', { hint: 'run `docker info` to see whether the engine is healthy' });
    const imagesEntry = { path: imagePartPath(0), size, sha256: hash.digest('hex') };
    await readBack.write(await fileHeader({ name: imagesEntry.path, size, mode: 0o644, mtime: created }), 0, 512, imagesAt);
    if (size % 512 !== 0) await writeThrough(file.stream, Buffer.alloc(512 - (size % 512)));

    writer = new ArchiveWriter((n) => {
      deps.onBytes?.(n);
      file.flushIfDue();
    });
    const pack = writer.pack;
    written = pipeline(pack, file.stream, { signal });
    written.catch(() => undefined);

    deps.onStage?.('package', packagePath(plan.version));
    const packageSize = await packed;
    await writer.addStream(packagePath(plan.version), packageSize, createReadStream(packageTmp, { highWaterMark: 1024 * 1024 }), { mode: 0o644 });
    await rm(packageTmp, { force: true });

    for (const model of plan.models) {
      deps.onStage?.('models', model.name);
      const paths = repoPaths(deps.modelsDir, model.repo);
      const folder = `${MODELS_DIR}/${repoFolderName(model.repo)}`;
      for (const f of model.files) {
        const blob = blobPath(paths, f.etag);
        await writer.addStream(`${folder}/blobs/${f.etag}`, (await stat(blob)).size, createReadStream(blob, { highWaterMark: 1024 * 1024 }), { mode: 0o644 });
      }
      for (const f of model.files) {
        const depth = f.path.split('/').length;
        const linkname = `${'../'.repeat(depth + 1)}blobs/${f.etag}`;
        await new Promise<void>((resolve, reject) =>
          pack.entry({ name: `${folder}/snapshots/${model.commit}/${f.path}`, type: 'symlink', linkname, mode: 0o777 }, (err) => (err ? reject(err) : resolve())),
        );
      }
      if (model.revision !== model.commit) await writer.addBuffer(`${folder}/refs/${model.revision}`, Buffer.from(model.commit), { mode: 0o644 });
    }

    deps.onStage?.('manifest', MANIFEST_PATH);
    const manifest: BundleManifest = {
      ...header,
      images: plan.images,
      models: plan.models,
      package: packagePath(plan.version),
      entries: [...head.entries, imagesEntry, ...writer.entries],
    };
    await writer.addBuffer(MANIFEST_PATH, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), { mode: 0o644 });
    pack.finalize();
    await written;
    await readBack.close();
    await file.close();
    await rename(partial, output);
    await syncDir(dirname(output));
    return { path: output, bytes: (await stat(output)).size, manifest };
  } catch (err) {
    packAbort.abort();
    saveAbort.abort();
    writer?.pack.destroy();
    // The docker command is stopped and waited for: it writes to the file about to be removed.
    const saveError = await saving?.then(
      () => undefined,
      (e: unknown) => e,
    );
    const writeError = await written?.then(
      () => undefined,
      (e: unknown) => e,
    );
    await readBack.close().catch(() => undefined);
    await file.abandon();
    await rm(partial, { force: true });
    await rm(packageTmp, { force: true });
    const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException | undefined)?.code ?? (e as { cause?: NodeJS.ErrnoException } | undefined)?.cause?.code ?? '';
    const full = [err, saveError, writeError].find((e) => ['ENOSPC', 'EDQUOT'].includes(codeOf(e)));
    if (full) throw diskFull(output, full);
    if (signal.aborted && !(isMstingError(err) && err.code !== 'INTERRUPTED')) {
      throw new MstingError('INTERRUPTED', 'interrupted; the partial bundle was removed', { hint: 'run the same command again' });
    }
    throw err;
  } finally {
    signal.removeEventListener('abort', stopPack);
  }
}
