import { lstat, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { MstingConfig, ModelConfig } from '../config/schema.js';
import { modelStatePath, repoPaths } from './cache-layout.js';
import { readModelState, stateFromCache, stateMatches } from './state.js';

/** What `models remove` would delete, decided before anything is touched (and shown in the prompt). */
export interface RemovePlan {
  name: string;
  repo: string;
  /** Whole directories and files to delete. */
  paths: string[];
  /** Bytes given back to the file system. */
  bytes: number;
  /** True when another configured model uses the same repository, so only this model's own blobs go. */
  shared: boolean;
}

async function sizeOf(path: string): Promise<number> {
  let s;
  try {
    s = await lstat(path);
  } catch {
    return 0;
  }
  if (!s.isDirectory()) return s.isFile() ? s.size : 0;
  let total = 0;
  for (const e of await readdir(path)) total += await sizeOf(join(path, e));
  return total;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

export async function planRemove(config: MstingConfig, modelsDir: string, model: ModelConfig): Promise<RemovePlan> {
  const paths = repoPaths(modelsDir, model.repo);
  const others = config.llm.models.filter((m) => m.name !== model.name && m.repo === model.repo);
  const statePath = modelStatePath(modelsDir, model.name);
  const keepState = (await exists(statePath)) ? [statePath] : [];
  if (others.length === 0) {
    const targets = [paths.root, paths.locks].filter((p) => p);
    const present: string[] = [];
    for (const p of targets) if (await exists(p)) present.push(p);
    return { name: model.name, repo: model.repo, paths: [...present, ...keepState], bytes: await sizeOf(paths.root), shared: false };
  }
  // Shared repository: delete only the blobs and links no other configured model uses.
  const mine = (await readModelState(modelsDir, model.name)) ?? (await stateFromCache(modelsDir, model));
  const used = new Set<string>();
  for (const other of others) {
    const s = await readModelState(modelsDir, other.name);
    if (s && stateMatches(s, other)) for (const f of s.files) used.add(f.etag);
  }
  const targets: string[] = [];
  let bytes = 0;
  for (const f of mine?.files ?? []) {
    if (used.has(f.etag)) continue;
    for (const p of [join(paths.blobs, f.etag), join(paths.blobs, `${f.etag}.incomplete`), join(paths.blobs, `${f.etag}.incomplete.json`)]) {
      if (await exists(p)) {
        targets.push(p);
        bytes += (await stat(p)).size;
      }
    }
    const link = join(paths.snapshots, mine!.commit, ...f.path.split('/'));
    if (await exists(link)) targets.push(link);
  }
  return { name: model.name, repo: model.repo, paths: [...targets, ...keepState], bytes, shared: true };
}

export async function applyRemove(plan: RemovePlan): Promise<void> {
  for (const p of plan.paths) await rm(p, { recursive: true, force: true });
}
