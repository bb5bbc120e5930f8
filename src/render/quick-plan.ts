import { homedir } from 'node:os';
import type { MstingConfig } from '../config/schema.js';
import { cpuFallbackRecommendation } from '../hardware/types.js';
import { modelsDir } from '../layout.js';
import type { StackPlan } from '../stack/plan.js';
import { NO_SECRETS } from '../stack/secrets.js';
import { renderStack } from './render-stack.js';

/**
 * The plan of the profile without probing anything (for fingerprints, --dry-run, and the commands
 * that only need which services run which images: bundle create, images list and push). A module
 * of its own so that those commands do not load the install workflow (certificates, preflight).
 */
export function quickPlan(config: MstingConfig, profile: string, env: NodeJS.ProcessEnv): StackPlan {
  const rendered = renderStack({ config, recommendation: cpuFallbackRecommendation(config.llm.models), profile, secrets: NO_SECRETS, modelsDir: modelsDir(env, process.platform, homedir()), schema: null });
  return rendered.plan;
}
