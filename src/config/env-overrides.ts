import type { KeyPath } from './problems.js';

/**
 * The few values an operator sets per host without editing config.yml. MSTING_HOME is read in
 * src/context.ts (it decides where config.yml is). An empty variable counts as unset.
 */
export const ENV_OVERRIDES: ReadonlyArray<{ variable: string; path: KeyPath }> = [
  { variable: 'MSTING_PROFILE', path: ['profile'] },
  { variable: 'MSTING_REGISTRY', path: ['images', 'registry'] },
  { variable: 'MSTING_VERSION', path: ['images', 'version'] },
];

export interface AppliedOverride {
  variable: string;
  path: KeyPath;
}

/** Copy of `input` with the overrides set; returns which applied, so problems can name the variable. */
export function applyEnvOverrides(input: unknown, env: NodeJS.ProcessEnv): { value: unknown; applied: AppliedOverride[] } {
  const applied: AppliedOverride[] = [];
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return { value: input, applied };
  const root = structuredClone(input) as Record<string, unknown>;
  for (const { variable, path } of ENV_OVERRIDES) {
    const raw = env[variable];
    if (raw === undefined || raw.trim() === '') continue;
    let node: Record<string, unknown> | undefined = root;
    for (const segment of path.slice(0, -1)) {
      if (node[String(segment)] === undefined) node[String(segment)] = {};
      const next: unknown = node[String(segment)];
      // A section written as something other than a mapping is the file's error to report.
      if (next === null || typeof next !== 'object' || Array.isArray(next)) {
        node = undefined;
        break;
      }
      node = next as Record<string, unknown>;
    }
    if (!node) continue;
    node[String(path.at(-1))] = raw.trim();
    applied.push({ variable, path });
  }
  return { value: root, applied };
}

/** The override that supplied a path (or a parent of it), if any. */
export function overrideFor(applied: readonly AppliedOverride[], path: KeyPath): AppliedOverride | undefined {
  return applied.find((o) => o.path.length <= path.length && o.path.every((segment, i) => String(segment) === String(path[i])));
}
