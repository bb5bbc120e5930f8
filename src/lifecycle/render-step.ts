import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { MstingConfig } from '../config/schema.js';
import type { Recommendation } from '../hardware/types.js';
import { modelsDir } from '../layout.js';
import { renderStack, type RenderedFile } from '../render/render-stack.js';
import { writeRendered, type WriteReport } from '../render/write.js';
import { envFilePath, type StackPlan } from '../stack/plan.js';
import type { SecretsProvider } from '../stack/secrets.js';

/**
 * The render `start` does before anything else: the same files `msting config render` writes,
 * rewritten only where config.yml (or a secret) changed them. An env file that holds secrets
 * this render cannot read (Vault sealed or not reachable yet) is kept as it is.
 */

export interface RenderStepResult {
  plan: StackPlan;
  report: WriteReport;
  /** Env files kept because the secrets they hold could not be read. */
  kept: string[];
  pendingSecrets: { id: string; services: string[] }[];
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function renderForStart(input: {
  config: MstingConfig;
  profile: string;
  home: string;
  env: NodeJS.ProcessEnv;
  recommendation: Recommendation;
  secrets: SecretsProvider;
  signal: AbortSignal;
}): Promise<RenderStepResult> {
  const rendered = renderStack({
    config: input.config,
    recommendation: input.recommendation,
    profile: input.profile,
    secrets: input.secrets,
    modelsDir: modelsDir(input.env, process.platform, homedir()),
  });
  const files = new Map<string, RenderedFile>(rendered.files);
  const kept: string[] = [];
  for (const service of new Set(rendered.pendingSecrets.flatMap((p) => p.services))) {
    const path = envFilePath(service);
    const current = files.has(path) ? await readIfExists(join(input.home, path)) : undefined;
    if (current !== undefined) {
      // Kept by writing back what is there: leaving it out of the set would make the writer
      // treat it as no longer rendered and remove it.
      files.set(path, { content: current, mode: 0o600, secret: true });
      kept.push(path);
    }
  }
  const report = await writeRendered(files, input.home, { signal: input.signal });
  return { plan: rendered.plan, report, kept: kept.sort(), pendingSecrets: rendered.pendingSecrets };
}
