import { readFile } from 'node:fs/promises';
import { MstingError } from '../errors.js';
import { configInvalidError, type ConfigProblem } from './problems.js';
import type { ConfigRule } from './rules.js';
import type { MstingConfig } from './schema.js';
import { validateConfigText, type ValidationResult } from './validate.js';

export interface LoadConfigOptions {
  configPath: string;
  /** The path came from --config: a missing file is then an error, not "use the defaults". */
  configExplicit: boolean;
  env: NodeJS.ProcessEnv;
  /** The profile the command will run (--profile), for rules that depend on it. */
  profile?: string | undefined;
  extraRules?: readonly ConfigRule[];
}

export interface LoadedConfig {
  config: MstingConfig;
  warnings: ConfigProblem[];
  path: string;
  /** False when no file exists and the defaults are in use. */
  exists: boolean;
}

/** Read config.yml; undefined when it does not exist. Other I/O failures become one clear error. */
export async function readConfigFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new MstingError('IO', `cannot read ${path}: permission denied`, { hint: 'run as the user that owns the install directory, or with sudo', cause: err });
    }
    if (code === 'EISDIR') throw new MstingError('IO', `${path} is a directory, not a config file`, { hint: 'point --config at a YAML file', cause: err });
    throw new MstingError('IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export interface CheckedConfig extends ValidationResult {
  path: string;
  exists: boolean;
}

/**
 * Read and validate without throwing on an invalid config: what `config validate --json` and
 * other reporters need. A missing file that --config named is still an error.
 */
export async function checkConfig(options: LoadConfigOptions): Promise<CheckedConfig> {
  const text = await readConfigFile(options.configPath);
  if (text === undefined && options.configExplicit) {
    throw new MstingError('USAGE', `config file ${options.configPath} does not exist`, {
      hint: `check the --config path, or create it with \`msting --config ${options.configPath} config init\``,
    });
  }
  const result = validateConfigText(text ?? '', { env: options.env, profile: options.profile, extraRules: options.extraRules ?? [] });
  return { ...result, path: options.configPath, exists: text !== undefined };
}

/**
 * The effective config: file (or defaults when there is none) + MSTING_* overrides, validated.
 * Throws CONFIG_INVALID (exit 3) listing every problem at once. Warnings are returned for the
 * command to show.
 */
export async function loadConfig(options: LoadConfigOptions): Promise<LoadedConfig> {
  const checked = await checkConfig(options);
  if (checked.errors.length > 0 || !checked.config) throw configInvalidError(options.configPath, checked.errors);
  return { config: checked.config, warnings: checked.warnings, path: checked.path, exists: checked.exists };
}
