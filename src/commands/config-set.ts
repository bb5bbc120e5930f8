import { stat } from 'node:fs/promises';
import type { Context } from '../context.js';
import { setConfigValue } from '../config/edit.js';
import { ENV_OVERRIDES } from '../config/env-overrides.js';
import { parseKey } from '../config/keys.js';
import { readConfigFile } from '../config/load.js';
import { maskSecrets } from '../config/mask.js';
import { formatPath, formatProblem } from '../config/problems.js';
import { writeFileAtomic } from '../files/atomic-write.js';

export interface ConfigSetOptions {
  key: string;
  /** Parsed as YAML: 8443 is a number, true a boolean, '"8443"' text; null removes the key. */
  value: string;
}

/**
 * `msting config set KEY VALUE`: change one value in the user's config.yml, keeping comments
 * and layout. The whole result is validated first; an invalid result exits 3 and the file is
 * not touched. The file is created when missing.
 */
export async function run(options: ConfigSetOptions, ctx: Context): Promise<number> {
  const path = ctx.configPath;
  const before = await readConfigFile(path);
  const result = setConfigValue(before, options.key, options.value, path);
  const mode = before === undefined ? 0o644 : ((await stat(path)).mode & 0o777);
  ctx.signal.throwIfAborted();
  await writeFileAtomic(path, result.text, { mode });

  const keyPath = parseKey(options.key);
  const key = formatPath(keyPath);
  const shown = maskSecrets(result.value, [], keyPath);
  for (const warning of result.warnings) ctx.out.warn(formatProblem(warning, path));
  const override = ENV_OVERRIDES.find((o) => formatPath(o.path) === key && (ctx.env[o.variable] ?? '').trim() !== '');
  if (override) ctx.out.warn(`${override.variable} is set in this environment and overrides ${key}`);
  if (result.value === null) ctx.out.success(`removed ${key} from ${path}; its default applies`);
  else ctx.out.success(`set ${key} = ${JSON.stringify(shown)} in ${path}${before === undefined ? ' (created)' : ''}`);
  ctx.out.result({ path, key, value: shown ?? null, created: before === undefined });
  return 0;
}
