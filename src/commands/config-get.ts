import { stringify } from 'yaml';
import type { Context } from '../context.js';
import { assertKnownKey, parseKey, valueAtKey } from '../config/keys.js';
import { loadConfig } from '../config/load.js';
import { maskSecrets } from '../config/mask.js';

export interface ConfigGetOptions {
  key: string;
}

/**
 * `msting config get KEY`: one value of the effective config. Scalars print plain (scripts can
 * use them as they are), lists and mappings as YAML; an optional key that is not set prints an
 * empty line (null under --json).
 */
export async function run(options: ConfigGetOptions, ctx: Context): Promise<number> {
  const path = parseKey(options.key);
  // A misspelt key is a usage error even when config.yml has problems of its own.
  assertKnownKey(path);
  const loaded = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
  const value = maskSecrets(valueAtKey(loaded.config, path), [], path);
  if (ctx.out.json) {
    ctx.out.result(value ?? null);
    return 0;
  }
  if (value === undefined || value === null) ctx.out.print('');
  else if (typeof value === 'object') ctx.out.print(stringify(value, { lineWidth: 0 }));
  else ctx.out.print(String(value));
  return 0;
}
