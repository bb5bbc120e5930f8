import { access } from 'node:fs/promises';
import { homedir } from 'node:os';
import type { MstingConfig } from '../config/schema.js';
import { MstingError } from '../errors.js';
import type { Context } from '../context.js';
import type { ComposeProject } from '../docker/compose-cli.js';
import { cpuFallbackRecommendation, type Recommendation } from '../hardware/types.js';
import { installLayout, modelsDir } from '../layout.js';
import { planStack, resolveProfileServices, type StackPlan } from '../stack/plan.js';
import { loadValidatedConfig } from './config-cache.js';

/**
 * What every lifecycle command starts from: the effective config, the planned stack of the
 * profile, and the compose project that names its containers.
 */

export interface LoadedStack {
  config: MstingConfig;
  profile: string;
  plan: StackPlan;
  project: ComposeProject;
  /** What the plan was made with: the one `start` and `config render` use, so model services agree. */
  recommendation: Recommendation;
  /** Model name → the commit of its downloaded snapshot, as the plan was made with. */
  modelCommits?: ReadonlyMap<string, string>;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function loadStack(
  ctx: Pick<Context, 'configPath' | 'configExplicit' | 'env' | 'home' | 'out'>,
  options: { profile?: string | undefined; recommendation?: Recommendation } = {},
): Promise<LoadedStack> {
  const { config, warnings } = await loadValidatedConfig(ctx, options.profile);
  if (warnings.length > 0) {
    const { formatProblem } = await import('../config/problems.js');
    for (const warning of warnings) ctx.out.warn(formatProblem(warning, ctx.configPath));
  }
  const profile = options.profile ?? config.profile;
  const recommendation = options.recommendation ?? (await profileRecommendation(config, profile, ctx));
  const models = modelsDir(ctx.env, process.platform, homedir());
  const modelCommits = await (await import('../models/snapshots.js')).modelCommitsFor(config, profile, models);
  const plan = planStack(config, recommendation, profile, { modelsDir: models, modelCommits });
  const layout = installLayout(ctx.home);
  const files = [layout.composeFile];
  if (await exists(layout.composeOverrideFile)) files.push(layout.composeOverrideFile);
  return { config, profile, plan, project: { name: config.project.name, files, profile }, recommendation, modelCommits };
}

/**
 * The recommendation a profile is planned with. Profiles with the LLM services use this
 * machine's (from the hardware snapshot, probed only when it is stale), exactly as `start` and
 * `config render` do, so `status`, `stop` and `logs` see the model services `start` started.
 */
export async function profileRecommendation(config: MstingConfig, profile: string, ctx: Pick<Context, 'env' | 'home'>): Promise<Recommendation> {
  if (!resolveProfileServices(config, profile).includes('llm-gateway')) return cpuFallbackRecommendation(config.llm.models);
  const { machineRecommendation } = await import('../hardware/snapshot.js');
  return machineRecommendation(config, ctx.home, ctx.env);
}


/**
 * Commands that drive Docker Compose and have no Swarm counterpart in msting refuse a config with
 * `orchestrator: swarm`, saying what to run instead (docs/swarm.md).
 */
export function requireCompose(config: Pick<MstingConfig, 'orchestrator'>, command: string, instead: string): void {
  if (config.orchestrator !== 'swarm') return;
  throw new MstingError('USAGE', `${command} works with Docker Compose only, and config.yml says orchestrator: swarm`, { hint: instead });
}
