import { join, relative, dirname } from 'node:path';

/**
 * The Hugging Face cache layout, shared with huggingface_hub, @huggingface/hub, vLLM, TGI and
 * llama.cpp, so a model msting downloads can be mounted as-is and an existing cache is reused:
 *
 *   models--ORG--NAME/blobs/<etag>            content (sha256 for LFS files, git sha1 otherwise)
 *   models--ORG--NAME/snapshots/<commit>/<path> relative symlink into blobs/
 *   models--ORG--NAME/refs/<revision>          the commit the revision resolved to
 *   .locks/models--ORG--NAME/<etag>.lock       one writer per blob
 *
 * msting's own bookkeeping lives beside it in `.msting/`, which other tools ignore.
 */
export interface RepoPaths {
  root: string;
  blobs: string;
  snapshots: string;
  refs: string;
  locks: string;
}

export function repoFolderName(repo: string): string {
  return `models--${repo.split('/').join('--')}`;
}

export function repoPaths(modelsDir: string, repo: string): RepoPaths {
  const folder = repoFolderName(repo);
  const root = join(modelsDir, folder);
  return {
    root,
    blobs: join(root, 'blobs'),
    snapshots: join(root, 'snapshots'),
    refs: join(root, 'refs'),
    locks: join(modelsDir, '.locks', folder),
  };
}

export function blobPath(paths: RepoPaths, etag: string): string {
  return join(paths.blobs, etag);
}

/** Partial content of a blob being downloaded (the name huggingface_hub uses). */
export function incompletePath(paths: RepoPaths, etag: string): string {
  return join(paths.blobs, `${etag}.incomplete`);
}

/** Resume record of a partial blob: storage ETag and bytes completed per range. */
export function sidecarPath(paths: RepoPaths, etag: string): string {
  return join(paths.blobs, `${etag}.incomplete.json`);
}

export function snapshotFile(paths: RepoPaths, commit: string, file: string): string {
  return join(paths.snapshots, commit, ...file.split('/'));
}

export function refPath(paths: RepoPaths, revision: string): string {
  return join(paths.refs, ...revision.split('/'));
}

/** The relative target a snapshot symlink points at, e.g. `../../blobs/<etag>` for a top-level file. */
export function symlinkTarget(paths: RepoPaths, commit: string, file: string, etag: string): string {
  return relative(dirname(snapshotFile(paths, commit, file)), blobPath(paths, etag));
}

/** msting's per-model state file (file list, sizes, hashes, verification times). */
export function modelStatePath(modelsDir: string, modelName: string): string {
  return join(modelsDir, '.msting', 'models', `${modelName}.json`);
}

export function lockPath(paths: RepoPaths, etag: string): string {
  return join(paths.locks, `${etag}.lock`);
}
