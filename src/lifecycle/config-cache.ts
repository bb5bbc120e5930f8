import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ENV_OVERRIDES } from '../config/env-overrides.js';
import type { ConfigProblem } from '../config/problems.js';
import type { MstingConfig } from '../config/schema.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { MSTING_BUILD } from '../package-info.js';
import type { Context } from '../context.js';

/**
 * The validated config of the last run, kept beside the rendered compose file and reused while
 * config.yml, the MSTING_* overrides, the profile and msting itself are unchanged. Loading the
 * schema and YAML libraries costs most of a `status` run; a read-only command should not pay
 * it for a file that has not changed since it was last validated.
 */

export const CONFIG_CACHE_FILE = join('compose', '.msting-config.json');

interface CacheFile {
  key: string;
  config: MstingConfig;
  warnings: ConfigProblem[];
}

export interface CacheInputs {
  home: string;
  configPath: string;
  configExplicit: boolean;
  env: NodeJS.ProcessEnv;
  profile: string | undefined;
}

/** What the validated result depends on: the file's bytes, the overrides, the profile, and this build of msting. */
export async function cacheKey(inputs: CacheInputs): Promise<string> {
  const [text, schema] = await Promise.all([
    readFile(inputs.configPath).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : Promise.reject(err))),
    MSTING_BUILD,
  ]);
  const overrides = ENV_OVERRIDES.map(({ variable }) => `${variable}=${inputs.env[variable] ?? ''}`);
  const hash = createHash('sha256');
  for (const part of [schema, inputs.configPath, String(inputs.configExplicit), inputs.profile ?? '', ...overrides]) hash.update(`${part}\0`);
  hash.update(text === null ? '\0absent' : text);
  return hash.digest('hex');
}

export async function readCachedConfig(home: string, key: string): Promise<{ config: MstingConfig; warnings: ConfigProblem[] } | undefined> {
  try {
    const cached = JSON.parse(await readFile(join(home, CONFIG_CACHE_FILE), 'utf8')) as CacheFile;
    return cached.key === key ? { config: cached.config, warnings: cached.warnings } : undefined;
  } catch {
    return undefined;
  }
}

/** Best effort: a home msting cannot write to (a read-only status as another user) just stays uncached. */
export async function writeCachedConfig(home: string, key: string, config: MstingConfig, warnings: ConfigProblem[]): Promise<void> {
  const data: CacheFile = { key, config, warnings };
  // Only into a rendered install: a command run against a home that does not exist creates nothing.
  const composeDir = await stat(join(home, 'compose')).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!composeDir) return;
  await writeFileAtomic(join(home, CONFIG_CACHE_FILE), `${JSON.stringify(data)}\n`, { mode: 0o600 }).catch(() => undefined);
}

/** config.yml validated, or the cached result of the last validation of the same inputs. */
export async function loadValidatedConfig(
  ctx: Pick<Context, 'configPath' | 'configExplicit' | 'env' | 'home'>,
  profile: string | undefined,
): Promise<{ config: MstingConfig; warnings: ConfigProblem[] }> {
  const key = await cacheKey({ home: ctx.home, configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env, profile });
  const cached = await readCachedConfig(ctx.home, key);
  if (cached) return cached;
  const { loadConfig } = await import('../config/load.js');
  const loaded = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env, profile });
  await writeCachedConfig(ctx.home, key, loaded.config, loaded.warnings);
  return { config: loaded.config, warnings: loaded.warnings };
}
