import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ImageArchive } from '../docker/image-archive.js';
import { MstingError } from '../errors.js';
import { repoPaths } from '../models/cache-layout.js';
import { linkSnapshotFile, writeRef } from '../models/snapshot.js';
import { writeModelState } from '../models/state.js';
import { IMAGES_DIR, MODELS_DIR, type BundleManifest } from './format.js';
import { invalidBundle, walkBundle } from './read.js';

/**
 * Putting a verified bundle to use: its images into the engine (one `docker load` of the parts,
 * streamed) and its models into the models directory (blobs written beside their final name and
 * renamed, then the snapshot links, the ref and msting's record). One pass over the file; every
 * entry is hashed again on the way and checked against the manifest at the end.
 */

export interface LoadBundleDeps {
  images: ImageArchive;
  /** Where models go; null: leave the bundle's models out (--skip-models). */
  modelsDir: string | null;
  signal: AbortSignal;
  onStage?: (stage: 'images' | 'models', detail: string) => void;
  onBytes?: (n: number) => void;
}

export interface LoadBundleResult {
  /** Image references the engine loaded. */
  images: string[];
  models: Array<{ name: string; size: number }>;
}

export async function loadBundle(path: string, manifest: BundleManifest, deps: LoadBundleDeps): Promise<LoadBundleResult> {
  const { signal } = deps;
  let feed: PassThrough | undefined;
  let loading: Promise<string[]> | undefined;
  let stopped: Promise<never> | undefined;
  const finishImages = async (): Promise<string[]> => {
    if (!feed || !loading) return [];
    feed.end();
    const loaded = await loading;
    feed = undefined;
    return loaded;
  };
  let images: string[] = [];
  const written: string[] = [];
  try {
    const walked = await walkBundle(
      path,
      async (entry) => {
        if (entry.path.startsWith(`${IMAGES_DIR}/`)) {
          if (!feed) {
            deps.onStage?.('images', `${manifest.images.length} images`);
            feed = new PassThrough({ highWaterMark: 1024 * 1024 });
            loading = deps.images.load(feed, signal);
            loading.catch(() => undefined);
            // A load that ends or fails stops reading the feed: no drain would come.
            stopped = loading.then(() => {
              throw new MstingError('EXTERNAL', 'docker load ended before the images did', { hint: 'run `msting bundle verify FILE`' });
            });
            stopped.catch(() => undefined);
          }
          for await (const chunk of entry.stream) {
            if (!feed.write(chunk)) await Promise.race([once(feed, 'drain'), stopped]);
          }
          return;
        }
        if (feed) images = await finishImages();
        if (deps.modelsDir && entry.path.startsWith(`${MODELS_DIR}/`) && /\/blobs\/[^/]+$/.test(entry.path)) {
          const target = join(deps.modelsDir, entry.path.slice(MODELS_DIR.length + 1));
          if ((await stat(target).then((s) => s.size, () => -1)) === entry.header.size) return;
          if (written.length === 0) deps.onStage?.('models', `${manifest.models.length} models`);
          await mkdir(dirname(target), { recursive: true });
          const tmp = `${target}.incomplete`;
          await pipeline(entry.stream, createWriteStream(tmp, { mode: 0o644 }), { signal });
          await rename(tmp, target);
          written.push(target);
        }
      },
      { signal, ...(deps.onBytes ? { onBytes: deps.onBytes } : {}) },
    );
    if (feed) images = await finishImages();
    if (walked.problems.length > 0) throw invalidBundle(path, walked.problems);
  } catch (err) {
    feed?.destroy();
    // Blobs written from a bundle that turned out damaged are not kept.
    await Promise.all(written.map((p) => rm(p, { force: true })));
    throw err;
  }
  const models: LoadBundleResult['models'] = [];
  if (deps.modelsDir) {
    for (const m of manifest.models) {
      const paths = repoPaths(deps.modelsDir, m.repo);
      for (const f of m.files) await linkSnapshotFile(paths, m.commit, f.path, f.etag);
      await writeRef(paths, m.revision, m.commit);
      await writeModelState(deps.modelsDir, m);
      models.push({ name: m.name, size: m.files.reduce((a, f) => a + f.size, 0) });
    }
  }
  return { images, models };
}
