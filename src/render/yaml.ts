import { Document } from 'yaml';

/**
 * YAML out of data, never out of pasted strings: keys sorted, long strings never folded, and
 * scalars quoted so that YAML 1.1 readers (`no`, `on`, `yes`) see the same strings.
 */
export function toYaml(value: unknown): string {
  const doc = new Document(value, { sortMapEntries: true, compat: 'yaml-1.1' });
  return doc.toString({ lineWidth: 0, minContentWidth: 0 });
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
