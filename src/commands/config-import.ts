import { access, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { Context } from '../context.js';
import { ExitCode, MstingError, usageError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { statOrUndefined } from '../files/stat.js';
import { importStingConfig, renderImportedConfig, type DroppedKey, type ImportResult, type MappedKey } from '../config/import.js';
import { JSON_SCHEMA_FILE } from '../config/template.js';
import { validateConfigText } from '../config/validate.js';
import { MSTING_VERSION } from '../package-info.js';

export interface ConfigImportOptions {
  /** The STING-CE conf/config.yml to read. */
  file: string;
  /** Replace an existing config.yml (the old one is kept as <file>.bak). */
  force: boolean;
  /** Write here instead of the install's config.yml; `-` prints the config on stdout. */
  output?: string | undefined;
}

/** Under --json: the whole import as one document. */
export interface ConfigImportJson {
  source: string;
  /** Where the config was written; null when it was printed (`--output -`). */
  path: string | null;
  shape: ImportResult['shape'];
  replaced: boolean;
  backup: string | null;
  mapped: MappedKey[];
  dropped: DroppedKey[];
  warnings: string[];
}

/**
 * `msting config import FILE`: write msting's config.yml from a STING-CE config.yml and report
 * every key mapped and every key dropped with the reason. An unreadable or unknown file exits 3
 * and writes nothing; an existing config.yml is replaced only with --force.
 */
export async function run(options: ConfigImportOptions, ctx: Context): Promise<number> {
  const toStdout = options.output === '-';
  if (toStdout && ctx.out.json) {
    throw usageError('--output - prints the config on stdout, where --json prints the report', 'drop one of them, or write the config to a file with --output FILE');
  }
  const source = resolve(options.file);
  const sourceTree = await stingSourceTree(source);
  const result = importStingConfig(await readSource(source), source, { env: ctx.env, ...(sourceTree ? { sourceTree } : {}) });
  const text = renderImportedConfig(result, {
    source,
    schemaLocation: JSON_SCHEMA_FILE,
    date: new Date().toISOString().slice(0, 10),
    version: MSTING_VERSION,
  });
  const check = validateConfigText(text);
  if (check.errors.length > 0) {
    throw new MstingError('FAILURE', `internal error: the imported config does not validate (${check.errors[0]!.path}: ${check.errors[0]!.message})`, {
      hint: 'report it with the STING-CE config (secrets removed); nothing was written',
    });
  }

  let path: string | null = null;
  let replaced = false;
  let backup: string | null = null;
  if (toStdout) {
    ctx.out.stdout.write(text);
  } else {
    path = options.output === undefined ? ctx.configPath : resolve(options.output);
    const existing = await statOrUndefined(path);
    if (existing?.isDirectory()) {
      throw new MstingError('IO', `${path} is a directory, not a config file`, { hint: 'remove it or name a file with --output' });
    }
    if (existing && !options.force) {
      throw new MstingError('CONFIG_EXISTS', `${path} already exists; it was left as it is and nothing was imported`, {
        hint: 'import into another file with `--output FILE`, or replace it with `--force` (the old file is kept as config.yml.bak)',
      });
    }
    ctx.signal.throwIfAborted();
    if (existing) {
      backup = `${path}.bak`;
      await writeFileAtomic(backup, await readFile(path), { mode: existing.mode & 0o777 });
      replaced = true;
    }
    await writeFileAtomic(path, text, { mode: 0o644 });
  }

  if (ctx.out.json) {
    const doc: ConfigImportJson = { source, path, shape: result.shape, replaced, backup, mapped: result.mapped, dropped: result.dropped, warnings: result.warnings };
    ctx.out.result(doc);
    return ExitCode.ok;
  }
  // The report goes to stdout, unless the config itself does.
  const say = (line: string): void => {
    if (toStdout) ctx.out.info(line);
    else ctx.out.print(line);
  };
  for (const line of reportLines(result)) say(line);
  for (const warning of result.warnings) ctx.out.warn(warning);
  if (path) {
    ctx.out.success(`${replaced ? 'replaced' : 'wrote'} ${path} from ${source}`);
    if (backup) ctx.out.info(`the previous file is kept as ${backup}`);
    ctx.out.info('check it with `msting config validate`, see the full effective config with `msting config show`');
  }
  return ExitCode.ok;
}

/** The human report: every mapped key with its value, every dropped key with the reason. */
export function reportLines(result: ImportResult): string[] {
  const droppedCount = result.dropped.reduce((n, d) => n + (d.keys?.length ?? 1), 0);
  const lines = [`mapped ${result.mapped.length} key${result.mapped.length === 1 ? '' : 's'}:`];
  for (const m of result.mapped) lines.push(`  ${m.from} -> ${m.to} = ${JSON.stringify(m.value)}${m.note ? ` (${m.note})` : ''}`);
  lines.push(`dropped ${droppedCount} key${droppedCount === 1 ? '' : 's'}:`);
  for (const d of result.dropped) {
    const what = d.secret ? `${d.from} (value not shown)` : d.keys ? `${d.from} (${d.keys.length} key${d.keys.length === 1 ? '' : 's'})` : `${d.from} = ${JSON.stringify(d.value)}`;
    lines.push(`  ${what}: ${d.reason}`);
  }
  return lines;
}

/** The source as a YAML value; every way it cannot be read exits 3 with the reason. */
async function readSource(path: string): Promise<unknown> {
  const hint = 'give the conf/config.yml of a STING-CE install, for example `msting config import /opt/sting-ce/conf/config.yml`';
  let text: string;
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw importError(`${path} is a directory, not a STING-CE config file`, `name the file inside it: \`msting config import ${path}/config.yml\``);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof MstingError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw importError(`${path} does not exist`, hint);
    if (code === 'EACCES' || code === 'EPERM') throw importError(`${path} cannot be read (permission denied)`, 'run as a user who can read it, or copy it somewhere readable');
    throw importError(`${path} cannot be read: ${(err as Error).message}`, hint);
  }
  if (text.includes('\u0000')) throw importError(`${path} is not YAML (it holds binary data)`, hint);
  // STING-CE's loader (PyYAML) accepts a repeated key, the last one winning; so does the import.
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: true });
  const error = doc.errors[0];
  if (error) throw importError(`${path} is not YAML: ${error.message.split('\n')[0]!.replace(/:$/, '')}`, hint);
  return doc.toJS({ maxAliasCount: 1000 });
}

/**
 * The STING-CE source tree holding `file` as conf/config.yml, or undefined. STING-CE's installer
 * copies its tree into the install directory and builds every image from it, so its conf/config.yml
 * usually lies in one; a copy taken elsewhere does not.
 */
async function stingSourceTree(file: string): Promise<string | undefined> {
  if (basename(dirname(file)) !== 'conf') return undefined;
  const tree = dirname(dirname(file));
  const markers = ['conf/config_loader.py', 'docker-compose.yml', 'app', 'frontend'];
  const present = await Promise.all(markers.map((m) => access(join(tree, m)).then(() => true, () => false)));
  return present.every(Boolean) ? tree : undefined;
}

function importError(message: string, hint: string): MstingError {
  return new MstingError('CONFIG_INVALID', message, { hint, exitCode: ExitCode.invalidConfig });
}

