import { stringify } from 'yaml';
import type { Context } from '../context.js';
import { loadConfig } from '../config/load.js';
import { maskSecrets } from '../config/mask.js';
import { formatProblem } from '../config/problems.js';
import { ENV_OVERRIDES } from '../config/env-overrides.js';

export type ConfigShowOptions = Record<string, never>;

/** `msting config show`: the effective config (file + defaults + MSTING_* overrides), secrets masked. */
export async function run(_options: ConfigShowOptions, ctx: Context): Promise<number> {
  const loaded = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
  for (const warning of loaded.warnings) ctx.out.warn(formatProblem(warning, loaded.path));
  const masked = maskSecrets(loaded.config);
  if (ctx.out.json) {
    ctx.out.result(masked);
    return 0;
  }
  const overrides = ENV_OVERRIDES.filter((o) => (ctx.env[o.variable] ?? '').trim() !== '').map((o) => o.variable);
  const source = loaded.exists ? loaded.path : `defaults (no file at ${loaded.path})`;
  ctx.out.info(`effective config from ${source}${overrides.length > 0 ? ` with ${overrides.join(', ')}` : ''}; secrets masked`);
  ctx.out.print(stringify(masked, { lineWidth: 0 }));
  return 0;
}
