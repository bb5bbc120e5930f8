import { compareText } from '../compare.js';
import { lstat, readFile, readdir, readlink, stat } from 'node:fs/promises';
import { join, resolve, dirname } from 'node:path';
import { writeFileAtomic } from '../files/atomic-write.js';
import type { ModelConfig } from '../config/schema.js';
import { blobPath, incompletePath, modelStatePath, refPath, repoPaths, sidecarPath, snapshotFile, type RepoPaths } from './cache-layout.js';
import { bootId } from './boot.js';
import type { HashAlgorithm } from './hashing.js';
import type { RemoteFile } from './hub-client.js';

/**
 * msting's record of one model: the commit its revision was pinned to, the selected files with
 * sizes and digests, and when each blob was last verified (with the blob's mtime then, so a blob
 * changed since is verified again).
 */
export interface ModelState {
  version: 1;
  name: string;
  repo: string;
  revision: string;
  commit: string;
  include: string[];
  exclude: string[];
  endpoint: string;
  resolvedAt: string;
  files: StateFile[];
}

export interface StateFile {
  path: string;
  size: number;
  etag: string;
  algorithm: HashAlgorithm;
  verifiedAt: string | null;
  mtimeMs: number | null;
  /**
   * The boot the verification happened in. A finished blob is not forced to disk, so after a
   * reboot its verification no longer counts and the next download or verify hashes it again.
   */
  verifiedBoot?: string | null;
}

export async function readModelState(modelsDir: string, name: string): Promise<ModelState | undefined> {
  try {
    const s = JSON.parse(await readFile(modelStatePath(modelsDir, name), 'utf8')) as ModelState;
    return s.version === 1 && typeof s.commit === 'string' && Array.isArray(s.files) ? s : undefined;
  } catch {
    return undefined;
  }
}

export async function writeModelState(modelsDir: string, state: ModelState): Promise<void> {
  await writeFileAtomic(modelStatePath(modelsDir, state.name), `${JSON.stringify(state, null, 2)}\n`);
}

/** The recorded pin still answers this config entry: same repository, revision and patterns. */
export function stateMatches(state: ModelState, model: ModelConfig): boolean {
  return (
    state.repo === model.repo &&
    state.revision === model.revision &&
    JSON.stringify(state.include) === JSON.stringify(model.files) &&
    JSON.stringify(state.exclude) === JSON.stringify(model.exclude)
  );
}

export function stateFromListing(model: ModelConfig, commit: string, files: RemoteFile[], endpoint: string, previous?: ModelState): ModelState {
  const old = new Map((previous?.files ?? []).map((f) => [`${f.path}\0${f.etag}`, f]));
  return {
    version: 1,
    name: model.name,
    repo: model.repo,
    revision: model.revision,
    commit,
    include: [...model.files],
    exclude: [...model.exclude],
    endpoint,
    resolvedAt: new Date().toISOString(),
    files: files.map((f) => {
      const prior = old.get(`${f.path}\0${f.etag}`);
      return {
        path: f.path,
        size: f.size,
        etag: f.etag,
        algorithm: f.algorithm,
        verifiedAt: prior?.verifiedAt ?? null,
        mtimeMs: prior?.mtimeMs ?? null,
        verifiedBoot: prior?.verifiedBoot ?? null,
      };
    }),
  };
}

export type FileLocalState = 'missing' | 'partial' | 'complete' | 'verified';

export interface FileInspection {
  file: StateFile;
  state: FileLocalState;
  /** Bytes on disk: the blob's size, or what a partial download holds. */
  have: number;
  linked: boolean;
}

/** What is on disk for one file, without hashing anything. */
export async function inspectFile(paths: RepoPaths, commit: string, file: StateFile): Promise<FileInspection> {
  const blob = blobPath(paths, file.etag);
  const linked = await isLinked(paths, commit, file.path, file.etag);
  try {
    const s = await stat(blob);
    if (s.size === file.size) {
      const verified = file.verifiedAt !== null && file.mtimeMs !== null && Math.abs(s.mtimeMs - file.mtimeMs) < 1 && file.verifiedBoot === bootId();
      return { file, state: verified ? 'verified' : 'complete', have: file.size, linked };
    }
  } catch {
    // no blob yet
  }
  const have = await partialBytes(paths, file);
  return { file, state: have > 0 ? 'partial' : 'missing', have, linked: false };
}

/** Bytes a partial download holds: the sidecar's per-range counts, or a prefix-only partial's size. */
export async function partialBytes(paths: RepoPaths, file: Pick<StateFile, 'etag' | 'size'>): Promise<number> {
  try {
    const s = JSON.parse(await readFile(sidecarPath(paths, file.etag), 'utf8')) as { size?: number; progress?: number[] };
    if (s.size === file.size && Array.isArray(s.progress)) return Math.min(file.size, s.progress.reduce((a, b) => a + b, 0));
  } catch {
    // no sidecar
  }
  try {
    const size = (await stat(incompletePath(paths, file.etag))).size;
    return size <= file.size ? size : 0;
  } catch {
    return 0;
  }
}

async function isLinked(paths: RepoPaths, commit: string, path: string, etag: string): Promise<boolean> {
  const link = snapshotFile(paths, commit, path);
  try {
    const l = await lstat(link);
    if (l.isSymbolicLink()) return resolve(dirname(link), await readlink(link)) === blobPath(paths, etag);
    return l.isFile();
  } catch {
    return false;
  }
}

export type ModelLocalState = 'missing' | 'partial' | 'complete' | 'verified';

export interface ModelInspection {
  name: string;
  repo: string;
  revision: string;
  commit: string | null;
  state: ModelLocalState;
  /** Total bytes of the selected files; null when the model was never resolved. */
  size: number | null;
  have: number;
  percent: number | null;
  files: FileInspection[];
  /** The snapshot directory other tools and the model containers mount. */
  snapshot: string | null;
}

/** A model's state on disk from msting's record, or, without one, from an existing cache's refs/ and snapshot. */
export async function inspectModel(modelsDir: string, model: ModelConfig): Promise<ModelInspection> {
  const paths = repoPaths(modelsDir, model.repo);
  const recorded = await readModelState(modelsDir, model.name);
  const state = recorded && stateFromRecordMatches(recorded, model) ? recorded : await stateFromCache(modelsDir, model);
  const base = { name: model.name, repo: model.repo, revision: model.revision };
  if (!state) return { ...base, commit: null, state: 'missing', size: null, have: 0, percent: null, files: [], snapshot: null };
  const files = await Promise.all(state.files.map((f) => inspectFile(paths, state.commit, f)));
  const size = files.reduce((a, f) => a + f.file.size, 0);
  const have = files.reduce((a, f) => a + f.have, 0);
  const all = (s: FileLocalState[]): boolean => files.every((f) => s.includes(f.state) && f.linked);
  const overall: ModelLocalState = all(['verified']) ? 'verified' : all(['verified', 'complete']) ? 'complete' : have > 0 ? 'partial' : 'missing';
  return {
    ...base,
    commit: state.commit,
    state: overall,
    size,
    have,
    percent: size === 0 ? 100 : Math.floor((have / size) * 1000) / 10,
    files,
    snapshot: join(paths.snapshots, state.commit),
  };
}

function stateFromRecordMatches(state: ModelState, model: ModelConfig): boolean {
  return stateMatches(state, model);
}

/**
 * An existing Hugging Face cache (another tool's download) without msting's record: the commit
 * from refs/<revision> (or the revision itself when it is a commit), the files from the snapshot's
 * links, and each blob's name as its expected digest (sha256 or git sha1, by length).
 */
export async function stateFromCache(modelsDir: string, model: ModelConfig): Promise<ModelState | undefined> {
  const paths = repoPaths(modelsDir, model.repo);
  let commit: string | undefined;
  if (/^[0-9a-f]{40}$/.test(model.revision)) commit = model.revision;
  else {
    try {
      commit = (await readFile(refPath(paths, model.revision), 'utf8')).trim();
    } catch {
      return undefined;
    }
  }
  if (!/^[0-9a-f]{40}$/.test(commit)) return undefined;
  const root = join(paths.snapshots, commit);
  const files: StateFile[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full, rel);
      else if (e.isSymbolicLink()) {
        const target = resolve(dir, await readlink(full));
        const etag = target.slice(target.lastIndexOf('/') + 1);
        if (dirname(target) !== paths.blobs || !/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(etag)) continue;
        let size = 0;
        try {
          size = (await stat(target)).size;
        } catch {
          // dangling link: the blob is missing
        }
        files.push({ path: rel, size, etag, algorithm: etag.length === 64 ? 'sha256' : 'git-sha1', verifiedAt: null, mtimeMs: null });
      }
    }
  };
  await walk(root, '');
  if (files.length === 0) return undefined;
  return {
    version: 1,
    name: model.name,
    repo: model.repo,
    revision: model.revision,
    commit,
    include: [...model.files],
    exclude: [...model.exclude],
    endpoint: '',
    resolvedAt: '',
    files: files.sort((a, b) => compareText(a.path, b.path)),
  };
}
