import { compareText } from '../compare.js';
import { access } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { ModelConfig } from '../config/schema.js';
import type { ModelLocalState } from '../models/state.js';
import type { StackPlan } from '../stack/plan.js';

/**
 * Files and directories the stack mounts that msting does not render: Vault tokens written by
 * `vault init`, TLS certificates, the models. Checked before anything is created, so a missing
 * one is one clear message instead of a half-created stack and Docker's error.
 */

export interface MissingFile {
  service: string;
  path: string;
  hint: string;
}

function hintFor(relative: string): string {
  if (relative.startsWith('secrets/vault-token')) return 'written by `msting vault init` (or `msting install`)';
  if (relative === 'certs' || relative.startsWith('certs/')) return 'created by `msting setup-ssl` (or `msting install`)';
  return 'create it, or render again with `msting config render`';
}

/**
 * Mounted paths that do not exist. The models directory of a model service is left to
 * `findMissingModels`, which says which model is missing and how to fetch it.
 */
export async function findMissingFiles(plan: Pick<StackPlan, 'services'>, home: string, only?: ReadonlySet<string>): Promise<MissingFile[]> {
  const wanted = new Map<string, { service: string; relative: string }>();
  for (const s of plan.services) {
    if (only && !only.has(s.name)) continue;
    // logs/ may be missing on a home no install set up; Docker creates it empty, which is right.
    const sources = s.group === 'model' ? [] : s.mounts.filter((m) => m.type === 'bind' && m.source !== 'logs').map((m) => m.source);
    if (s.vaultTokenFile) sources.push(s.vaultTokenFile);
    for (const source of sources) {
      const path = isAbsolute(source) ? source : join(home, source);
      if (!wanted.has(path)) wanted.set(path, { service: s.name, relative: source });
    }
  }
  const missing: MissingFile[] = [];
  await Promise.all(
    [...wanted].map(async ([path, { service, relative }]) => {
      const present = await access(path).then(
        () => true,
        () => false,
      );
      if (!present) missing.push({ service, path, hint: hintFor(relative) });
    }),
  );
  return missing.sort((a, b) => compareText(a.path, b.path));
}

export interface MissingModel {
  /** The model's name in llm.models (what `msting models download` takes). */
  model: string;
  repo: string;
  revision: string;
  /** Its model services (replicas) about to start. */
  services: string[];
  state: Exclude<ModelLocalState, 'complete' | 'verified'>;
}

/**
 * Models a model service about to start would load but whose files are not all in the models
 * directory (checked without hashing: `msting models verify` hashes).
 */
export async function findMissingModels(plan: Pick<StackPlan, 'services'>, models: readonly ModelConfig[], modelsDir: string, only?: ReadonlySet<string>): Promise<MissingModel[]> {
  const services = new Map<string, string[]>();
  for (const s of plan.services) {
    if (s.model === null || (only && !only.has(s.name))) continue;
    services.set(s.model.name, [...(services.get(s.model.name) ?? []), s.name]);
  }
  const wanted = models.filter((m) => services.has(m.name));
  if (wanted.length === 0) return [];
  const { inspectModelsOnDisk } = await import('../models/snapshots.js');
  const onDisk = await inspectModelsOnDisk(modelsDir, wanted);
  const missing: MissingModel[] = [];
  for (const m of onDisk) {
    if (m.state === 'complete' || m.state === 'verified') continue;
    missing.push({ model: m.name, repo: m.repo, revision: m.revision, services: services.get(m.name) ?? [], state: m.state });
  }
  return missing.sort((a, b) => compareText(a.model, b.model));
}

/** The command that fetches the missing models. */
export function downloadCommand(missing: readonly Pick<MissingModel, 'model'>[]): string {
  return `msting models download ${missing.map((m) => m.model).join(' ')}`;
}
