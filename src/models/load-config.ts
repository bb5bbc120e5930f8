import { homedir } from 'node:os';
import type { Context } from '../context.js';
import { modelsDir } from '../layout.js';

/** The models directory for this run: STING_MODELS_DIR, else the platform default. */
export function resolveModelsDir(ctx: Context): string {
  return modelsDir(ctx.env, process.platform, homedir());
}

/** config.yml, validated (or as last validated, while neither it nor msting changed: config-cache.ts). */
export async function loadModelsConfig(ctx: Context) {
  const { loadValidatedConfig } = await import('../lifecycle/config-cache.js');
  const loaded = await loadValidatedConfig(ctx, undefined);
  if (loaded.warnings.length > 0) {
    const { formatProblem } = await import('../config/problems.js');
    for (const warning of loaded.warnings) ctx.out.warn(formatProblem(warning, ctx.configPath));
  }
  return loaded.config;
}
