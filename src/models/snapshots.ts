import type { MstingConfig, ModelConfig } from '../config/schema.js';
import { resolveProfileServices } from '../stack/plan.js';
import { inspectModel, type ModelLocalState } from './state.js';

/**
 * Which models are on disk, for the renderer and for `start`. Rendering is pure, so the commit a
 * model's revision resolved to (which names its snapshot directory, the path the model service
 * loads) is read here, by the caller, and passed in like the hardware recommendation.
 */

export interface ModelOnDisk {
  name: string;
  repo: string;
  revision: string;
  state: ModelLocalState;
  /** The commit of the downloaded snapshot; null when nothing usable is on disk. */
  commit: string | null;
}

/** Whether a model's files are all present (complete or verified): a model service can load it. */
export function isUsable(state: ModelLocalState): boolean {
  return state === 'complete' || state === 'verified';
}

/** The state on disk of each model, without hashing anything. */
export async function inspectModelsOnDisk(modelsDir: string, models: readonly ModelConfig[]): Promise<ModelOnDisk[]> {
  return Promise.all(
    models.map(async (m) => {
      const inspection = await inspectModel(modelsDir, m);
      return { name: m.name, repo: m.repo, revision: m.revision, state: inspection.state, commit: isUsable(inspection.state) ? inspection.commit : null };
    }),
  );
}

/** Model name → commit, for the models whose files are all on disk (planStack's `modelCommits`). */
export async function readModelCommits(modelsDir: string, models: readonly ModelConfig[]): Promise<Map<string, string>> {
  const onDisk = await inspectModelsOnDisk(
    modelsDir,
    models.filter((m) => m.enabled),
  );
  return new Map(onDisk.filter((m) => m.commit !== null).map((m) => [m.name, m.commit!]));
}

/**
 * The commits of the downloaded models a profile runs, read from the models directory so the
 * render can point each model service at its snapshot. Profiles without models read nothing.
 */
export async function modelCommitsFor(config: MstingConfig, profile: string, dir: string): Promise<Map<string, string>> {
  if (!resolveProfileServices(config, profile).includes('llm-gateway')) return new Map();
  return readModelCommits(dir, config.llm.models);
}
