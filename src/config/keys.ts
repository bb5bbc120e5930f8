import { MstingError } from '../errors.js';
import { formatPath, type KeyPath } from './problems.js';
import { schemaAt, schemaKind } from './schema-walk.js';
import { configSchema } from './schema.js';
import { didYouMean } from './suggest.js';

/**
 * Dotted keys as `config get` and `config set` take them: `ports.frontend`,
 * `llm.models.0.enabled` (or `llm.models[0].enabled`). Checked against the schema, so a typo is
 * a usage error with a suggestion rather than a silently new key.
 */
export function parseKey(key: string): (string | number)[] {
  const normalized = key.trim().replace(/\[(\d+)\]/g, '.$1');
  const segments = normalized.split('.');
  if (normalized === '' || segments.some((s) => s === '')) {
    throw new MstingError('CONFIG_KEY', `"${key}" is not a key path`, { hint: 'write keys with dots, for example ports.frontend or llm.models.0.enabled' });
  }
  return segments.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Throws CONFIG_KEY (exit 2) unless the schema has a place for this path. */
export function assertKnownKey(path: KeyPath): void {
  const found = schemaAt(configSchema, path);
  if (found.ok) return;
  const { depth, lookup } = found;
  const parent = formatPath(path.slice(0, depth));
  const segment = String(path[depth]);
  const full = formatPath(path);
  if (lookup.reason === 'unknown-key') {
    const suggestion = didYouMean(segment, lookup.allowed);
    const prefix = parent === '' ? '' : `${parent}.`;
    throw new MstingError('CONFIG_KEY', `unknown config key "${full}"`, {
      hint: suggestion
        ? `did you mean "${prefix}${closest(segment, lookup.allowed)}"?`
        : `keys under ${parent === '' ? 'the top level' : parent}: ${lookup.allowed.join(', ')}`,
    });
  }
  if (lookup.reason === 'not-an-index') {
    throw new MstingError('CONFIG_KEY', `${parent} is a list: "${segment}" is not an index`, { hint: `use a number, for example ${parent}.0` });
  }
  throw new MstingError('CONFIG_KEY', `${parent} is a single value and has no key "${segment}"`, { hint: `use \`msting config get ${parent}\`` });
}

function closest(word: string, candidates: string[]): string {
  return didYouMean(word, candidates)!.replace(/^did you mean "(.*)"\?$/, '$1');
}

/** Whether the schema expects a list at this path (so a missing node is created as one). */
export function expectsList(path: KeyPath): boolean {
  const found = schemaAt(configSchema, path);
  return found.ok && schemaKind(found.schema) === 'array';
}

/**
 * The value at a path of the effective config. `undefined` for an optional key that is not set;
 * an index past the end of a list is a usage error.
 */
export function valueAtKey(config: unknown, path: KeyPath): unknown {
  assertKnownKey(path);
  let node: unknown = config;
  for (let i = 0; i < path.length; i++) {
    if (Array.isArray(node)) {
      const index = Number(path[i]);
      if (index >= node.length) {
        const list = formatPath(path.slice(0, i));
        throw new MstingError('CONFIG_KEY', `${list} has ${node.length} ${node.length === 1 ? 'entry' : 'entries'}; there is no index ${index}`, {
          hint: node.length > 0 ? `indexes run from 0 to ${node.length - 1}` : `${list} is empty`,
        });
      }
      node = node[index];
    } else if (node !== null && typeof node === 'object') {
      node = (node as Record<string, unknown>)[String(path[i])];
    } else {
      return undefined;
    }
  }
  return node;
}
