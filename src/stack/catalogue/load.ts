import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { compareText } from '../../compare.js';
import { CORE_SERVICES, LLM_SERVICES, OBSERVABILITY_SERVICES } from '../names.js';
import { DATABASE_USERS, secretConsumers } from '../secrets.js';
import { catalogueEntrySchema, type Catalogue, type CatalogueEntry } from './schema.js';

/**
 * Reads and checks the service catalogue (`compose/*.yml`). Used when msting is built
 * (scripts/build.mjs bundles the result as data) and by the tests, which import the TypeScript
 * directly; a running msting never calls it.
 */

/** A catalogue file that does not follow the format; the message names the file and the key path. */
export class CatalogueError extends Error {
  constructor(
    readonly file: string,
    readonly keyPath: string,
    detail: string,
  ) {
    super(`${file}: ${keyPath === '' ? '' : `${keyPath}: `}${detail}`);
    this.name = 'CatalogueError';
  }
}

const GROUP_LISTS: Record<CatalogueEntry['group'], { list: readonly string[]; name: string }> = {
  core: { list: CORE_SERVICES, name: 'CORE_SERVICES' },
  observability: { list: OBSERVABILITY_SERVICES, name: 'OBSERVABILITY_SERVICES' },
  llm: { list: LLM_SERVICES, name: 'LLM_SERVICES' },
};

function keyPath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

/** The issue to report: a misspelt key first, since it also makes the key it meant look missing. */
function firstIssue(file: string, error: z.ZodError): CatalogueError {
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    return new CatalogueError(file, keyPath([...issue.path, issue.keys[0]!]), `unknown key${issue.keys.length > 1 ? ` (also ${issue.keys.slice(1).join(', ')})` : ''}`);
  }
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) return new CatalogueError(file, keyPath(issue.path), `missing (expected ${issue.expected})`);
  return new CatalogueError(file, keyPath(issue.path), issue.message);
}

/** One file's text, checked. `file` names it in errors. */
export function parseCatalogueEntry(file: string, text: string): CatalogueEntry {
  const doc = parseDocument(text);
  const yamlError = doc.errors[0];
  if (yamlError) {
    const at = yamlError.linePos?.[0];
    const message = yamlError.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new CatalogueError(file, '', `${at ? `line ${at.line}, column ${at.col}: ` : ''}${message}`);
  }
  const result = catalogueEntrySchema.safeParse(doc.toJS());
  if (!result.success) throw firstIssue(file, result.error);
  return result.data;
}

/**
 * Checks between files: every service known to names.ts, in its group, every dependency a service
 * of the catalogue, and every secret an env file names one that SECRET_SPECS gives that service.
 */
function checkCatalogue(folder: string, catalogue: Catalogue): void {
  const names = Object.keys(catalogue);
  for (const [group, { list, name }] of Object.entries(GROUP_LISTS)) {
    for (const service of list) {
      if (catalogue[service] === undefined) throw new CatalogueError(`${folder}/${service}.yml`, '', `missing: ${name} in src/stack/names.ts lists ${service}`);
      if (catalogue[service].group !== group) throw new CatalogueError(`${folder}/${service}.yml`, 'group', `is ${catalogue[service].group}, but src/stack/names.ts lists ${service} in ${name}`);
    }
  }
  const described = new Map<string, string>();
  for (const service of names) {
    const file = `${folder}/${service}.yml`;
    const entry = catalogue[service]!;
    if (!Object.values(GROUP_LISTS).some(({ list }) => list.includes(service))) {
      throw new CatalogueError(file, '', `${service} is not a service of src/stack/names.ts (add it to the list of its group)`);
    }
    const variants = [entry, ...Object.values(entry.when)];
    for (const variant of variants) {
      for (const dep of [...Object.keys(variant.depends_on ?? {}), ...Object.keys(variant.depends_on_if_running ?? {})]) {
        if (catalogue[dep] === undefined) throw new CatalogueError(file, 'depends_on', `${dep} is not a service of the catalogue`);
      }
    }
    for (const [name, variable] of Object.entries(entry.env)) {
      if (variable.secret !== undefined && !secretConsumers(variable.secret).includes(service)) {
        throw new CatalogueError(file, `env.${name}.secret`, `${variable.secret} is not given to ${service}: add ${service} to its consumers in src/stack/secrets.ts`);
      }
      if (variable.derived === 'database_url' && !(DATABASE_USERS as readonly string[]).includes(service)) {
        throw new CatalogueError(file, `env.${name}.derived`, `${service} has no database user: add it to DATABASE_USERS in src/stack/secrets.ts`);
      }
    }
    entry.mounts.forEach((mount, i) => {
      if (!('volume' in mount) || mount.about === undefined) return;
      const other = described.get(mount.volume);
      if (other !== undefined) throw new CatalogueError(file, `mounts.${i}.about`, `volume ${mount.volume} is already described in ${other}`);
      described.set(mount.volume, file);
    });
  }
}

/** Every `<service>.yml` of a catalogue folder, checked, by service name. */
export function loadCatalogue(dir: string): Catalogue {
  const folder = basename(dir);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .sort(compareText);
  const catalogue: Catalogue = {};
  for (const name of files) catalogue[name.slice(0, -'.yml'.length)] = parseCatalogueEntry(`${folder}/${name}`, readFileSync(join(dir, name), 'utf8'));
  checkCatalogue(folder, catalogue);
  return catalogue;
}
