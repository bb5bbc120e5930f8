import { rm, stat } from 'node:fs/promises';
import type { MstingConfig, ModelConfig } from '../config/schema.js';
import { bootId } from './boot.js';
import { blobPath, repoPaths } from './cache-layout.js';
import { hashFile } from './hashing.js';
import type { ProgressListener } from './progress.js';
import { selectModels } from './select.js';
import { linkSnapshotFile } from './snapshot.js';
import { readModelState, stateFromCache, stateMatches, writeModelState } from './state.js';

export interface VerifyModelsOptions {
  config: MstingConfig;
  /** Models to verify; empty or absent: every configured model with something on disk. */
  names?: readonly string[];
  modelsDir: string;
  signal: AbortSignal;
  onProgress?: ProgressListener;
}

export type VerifiedFileState = 'verified' | 'corrupt' | 'missing';

export interface ModelVerification {
  name: string;
  repo: string;
  revision: string;
  commit: string | null;
  snapshot: string | null;
  size: number;
  /** Every selected file is present and matches its digest. */
  ok: boolean;
  files: Array<{ path: string; size: number; state: VerifiedFileState; expected: string; actual?: string }>;
}

/**
 * Hash every file of the selected models against the digests recorded from the hub (or, for a
 * cache another tool wrote, the blob names, which are those digests). A mismatching blob is
 * deleted so the next download fetches it again; a good one is (re)linked into the snapshot.
 */
export async function verifyModels(options: VerifyModelsOptions): Promise<ModelVerification[]> {
  const { modelsDir, signal } = options;
  const emit: ProgressListener = options.onProgress ?? (() => undefined);
  const explicit = options.names !== undefined && options.names.length > 0;
  const models = selectModels(options.config, options.names, 'all');
  const results: ModelVerification[] = [];
  for (const model of models) {
    const recorded = await readModelState(modelsDir, model.name);
    const state = recorded && stateMatches(recorded, model) ? recorded : await stateFromCache(modelsDir, model);
    if (!state) {
      if (explicit) results.push(notDownloaded(model));
      continue;
    }
    const paths = repoPaths(modelsDir, model.repo);
    const total = state.files.reduce((a, f) => a + f.size, 0);
    let done = 0;
    const files: ModelVerification['files'] = [];
    for (const file of state.files) {
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('interrupted');
      const blob = blobPath(paths, file.etag);
      let size: number | undefined;
      try {
        size = (await stat(blob)).size;
      } catch {
        size = undefined;
      }
      if (size === undefined) {
        files.push({ path: file.path, size: file.size, state: 'missing', expected: file.etag });
        emit(ev(model.name, file.path, 0, file.size, 'missing'));
        continue;
      }
      emit(ev(model.name, file.path, 0, file.size, 'verifying'));
      const actual = size === file.size ? await hashFile(blob, file.algorithm, size, signal) : `${size} bytes instead of ${file.size}`;
      done += file.size;
      if (actual === file.etag) {
        file.verifiedAt = new Date().toISOString();
        file.mtimeMs = (await stat(blob)).mtimeMs;
        file.verifiedBoot = bootId();
        await linkSnapshotFile(paths, state.commit, file.path, file.etag);
        files.push({ path: file.path, size: file.size, state: 'verified', expected: file.etag });
        emit(ev(model.name, file.path, file.size, file.size, 'verified'));
      } else {
        await rm(blob, { force: true });
        file.verifiedAt = null;
        file.mtimeMs = null;
        file.verifiedBoot = null;
        files.push({ path: file.path, size: file.size, state: 'corrupt', expected: file.etag, actual });
        emit({ ...ev(model.name, file.path, 0, file.size, 'corrupt'), message: `expected ${file.etag}, got ${actual}; deleted (run models download to fetch it again)` });
      }
      emit(ev(model.name, null, done, total, 'verifying'));
    }
    // A recorded state keeps its verification times; a cache found on disk is not adopted as msting's pin.
    if (state === recorded) await writeModelState(modelsDir, state);
    const ok = files.every((f) => f.state === 'verified');
    emit(ev(model.name, null, total, total, ok ? 'verified' : 'corrupt'));
    results.push({
      name: model.name,
      repo: model.repo,
      revision: model.revision,
      commit: state.commit,
      snapshot: `${paths.snapshots}/${state.commit}`,
      size: total,
      ok,
      files,
    });
  }
  return results;
}

function notDownloaded(model: ModelConfig): ModelVerification {
  return { name: model.name, repo: model.repo, revision: model.revision, commit: null, snapshot: null, size: 0, ok: false, files: [] };
}

function ev(model: string, file: string | null, bytes: number, total: number, state: 'verifying' | 'verified' | 'corrupt' | 'missing') {
  return { model, file, bytes, total, rate: 0, state, at: new Date().toISOString() };
}
