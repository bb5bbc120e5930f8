import { readFile } from 'node:fs/promises';
import { MstingError } from '../errors.js';
import { keyPathAt } from './document.js';
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

/**
 * Read config.yml; undefined when it does not exist. Other I/O failures become one clear error,
 * and a file that is not UTF-8 is invalid (exit 3) at its first bad byte: read leniently, a
 * Latin-1 `é` would become a replacement character in a value.
 */
export async function readConfigFile(path: string): Promise<string | undefined> {
  const read = await readConfigBytes(path);
  if (read === undefined || typeof read === 'string') return read;
  throw configInvalidError(path, [read]);
}

async function readConfigBytes(path: string): Promise<string | ConfigProblem | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new MstingError('IO', `cannot read ${path}: permission denied`, { hint: 'run as the user that owns the install directory, or with sudo', cause: err });
    }
    if (code === 'EISDIR') throw new MstingError('IO', `${path} is a directory, not a config file`, { hint: 'point --config at a YAML file', cause: err });
    throw new MstingError('IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return decodeUtf8(bytes);
}

/** The text, or the problem at the first byte that is not UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | ConfigProblem {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    const before = new TextDecoder('utf-8').decode(bytes.subarray(0, bad));
    const lineStart = before.lastIndexOf('\n') + 1;
    return {
      severity: 'error',
      path: keyPathAt(new TextDecoder('utf-8').decode(bytes), before.length),
      line: before.split('\n').length,
      column: [...before.slice(lineStart)].length + 1,
      message: `the file is not UTF-8: byte 0x${bytes[bad]!.toString(16).padStart(2, '0')} starts no UTF-8 character`,
      hint: 'save the file as UTF-8, for example with `iconv -f latin1 -t utf-8`',
      source: 'file',
    };
  }
}

/** Offset of the first byte that does not belong to a well-formed UTF-8 sequence. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  // A sequence is at most four bytes: find the first prefix end where decoding one more
  // character fails, by checking each character's bytes on their own.
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    try {
      decoder.decode(bytes.subarray(i, i + length));
    } catch {
      return i;
    }
    i += length;
  }
  return i;
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
  const read = await readConfigBytes(options.configPath);
  if (read !== undefined && typeof read !== 'string') {
    return { ...validateConfigText(''), config: null, errors: [read], path: options.configPath, exists: true };
  }
  const text = read;
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
