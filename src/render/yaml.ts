import { Document } from 'yaml';

/**
 * YAML out of data, never out of pasted strings: keys sorted, long strings never folded, and
 * scalars quoted so that YAML 1.1 readers (`no`, `on`, `yes`) see the same strings.
 *
 * The output is the yaml library's (`Document` with sorted keys and YAML 1.1 quoting, no line
 * folding). Rendering it through the library's node tree was most of `config render`'s time, so
 * the data msting renders (plain objects, arrays, printable single-line strings, finite numbers,
 * booleans, null) is written here directly, byte for byte as the library writes it (a test
 * compares both over every rendered file and generated documents); anything else, such as a
 * multi-line string or an object that appears twice, goes through the library itself.
 */
export function toYaml(value: unknown): string {
  return blockYaml(value) ?? libraryYaml(value);
}

function libraryYaml(value: unknown): string {
  const doc = new Document(value, { sortMapEntries: true, compat: 'yaml-1.1' });
  return doc.toString({ lineWidth: 0, minContentWidth: 0 });
}

interface TagTest {
  default?: boolean | string;
  tag: string;
  test?: RegExp;
}

let resolvesAsOther: ((plain: string) => boolean) | undefined;

/** Whether a plain scalar would read back as something other than a string (a number, `yes`, a date). */
function readsAsNonString(plain: string): boolean {
  if (!resolvesAsOther) {
    const schema = new Document(null, { compat: 'yaml-1.1' }).schema as unknown as { tags: TagTest[]; compat: TagTest[] | null };
    const tests = [...schema.tags, ...(schema.compat ?? [])]
      .filter((t) => t.default && t.tag !== 'tag:yaml.org,2002:str' && t.test)
      .map((t) => t.test as RegExp);
    resolvesAsOther = (s) => tests.some((re) => re.test(s));
  }
  return resolvesAsOther(plain);
}

/** Printable ASCII only, and no document marker at its start. */
const SIMPLE_STRING = /^(?!---|\.\.\.)[\x20-\x7e]*$/;
/** Where a plain scalar is not allowed (the library's rule for single-line strings). */
const NOT_PLAIN = /^[\t ,[\]{}#&*!|>'"%@`]|^[?-]$|^[?-][ \t]|:[ \t]|[\t ]#|[\t :]$/;

class Unsupported extends Error {}

function scalar(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Object.is(value, -0)) throw new Unsupported();
    return JSON.stringify(value);
  }
  if (!SIMPLE_STRING.test(value)) throw new Unsupported();
  if (value !== '' && !NOT_PLAIN.test(value) && !readsAsNonString(value)) return value;
  // Quoted: double quotes unless the string has double quotes and no single ones.
  if (value.includes('"') && !value.includes("'")) return `'${value}'`;
  return JSON.stringify(value);
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The library's block style for the data msting renders, or null where only the library will do (exported for its tests). */
export function blockYaml(value: unknown): string | null {
  const seen = new Set<object>();
  const enter = (o: object): void => {
    // A shared object becomes an anchor and alias in the library's output.
    if (seen.has(o)) throw new Unsupported();
    seen.add(o);
  };
  const entries = (o: Record<string, unknown>): [string, unknown][] =>
    Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((k) => [k, o[k]]);

  // Each returns its first line unindented; the lines after it carry `indent`.
  const node = (v: unknown, indent: string, after: ' ' | '\n'): string => {
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return ` ${scalar(v)}`;
    if (typeof v !== 'object') throw new Unsupported();
    enter(v);
    if (Array.isArray(v)) {
      if (v.length === 0) return ' []';
      return after === ' ' ? ` ${seq(v, indent)}` : `\n${indent}${seq(v, indent)}`;
    }
    if (!isPlainObject(v)) throw new Unsupported();
    const pairs = entries(v);
    if (pairs.length === 0) return ' {}';
    return after === ' ' ? ` ${map(pairs, indent)}` : `\n${indent}${map(pairs, indent)}`;
  };
  const seq = (items: unknown[], indent: string): string =>
    items
      .map((item, i) => {
        if (item === undefined) throw new Unsupported();
        return `${i === 0 ? '' : indent}-${node(item, `${indent}  `, ' ')}`;
      })
      .join('\n');
  const map = (pairs: [string, unknown][], indent: string): string =>
    pairs
      .map(([k, v], i) => {
        if (k.length > 1024) throw new Unsupported();
        return `${i === 0 ? '' : indent}${scalar(k)}:${node(v, `${indent}  `, '\n')}`;
      })
      .join('\n');

  try {
    return `${node(value, '', ' ').slice(1)}\n`;
  } catch (err) {
    if (err instanceof Unsupported) return null;
    throw err;
  }
}

/** JSON with sorted keys and a final newline, for config files that are JSON. */
export function toSortedJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * Compose interpolates `$VAR` and `${VAR}` in every string of the file. msting renders literal
 * values only, so every `$` is doubled: a config value cannot reach the host environment, and a
 * shell variable in a health check reaches the container as written.
 */
export function escapeComposeInterpolation<T>(value: T): T {
  // A replacer function: in a replacement string `$$` would itself mean one `$`.
  if (typeof value === 'string') return value.replaceAll('$', () => '$$') as T;
  if (Array.isArray(value)) return value.map((v) => escapeComposeInterpolation(v)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeComposeInterpolation(v)])) as T;
  }
  return value;
}
