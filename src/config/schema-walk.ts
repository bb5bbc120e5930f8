import type { z } from 'zod';
import type { KeyPath } from './problems.js';

/**
 * Walks the zod schema along a key path, so messages can list the keys allowed at a place and
 * `config get`/`config set` can tell an unknown key from an unset optional one. Reads zod's
 * definition objects (`_zod.def`), which are stable across zod 4 releases.
 */

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Strip defaults, optionals and pipes down to the schema that decides the shape. */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if ((def.type === 'default' || def.type === 'prefault' || def.type === 'optional' || def.type === 'nullable') && def.innerType) {
      current = def.innerType;
    } else if (def.type === 'pipe' && def.in) {
      current = def.in;
    } else {
      return current;
    }
  }
}

export type SchemaKind = 'object' | 'array' | 'record' | 'scalar';

export function schemaKind(schema: z.ZodType): SchemaKind {
  const def = defOf(unwrapSchema(schema));
  if (def.type === 'object') return 'object';
  if (def.type === 'array') return 'array';
  if (def.type === 'record') return 'record';
  if (def.type === 'union' && def.options) {
    const kinds = new Set(def.options.map(schemaKind));
    if (kinds.size === 1) return [...kinds][0]!;
  }
  return 'scalar';
}

/** Keys an object schema allows, or undefined when the schema is not an object. */
export function allowedKeys(schema: z.ZodType): string[] | undefined {
  const def = defOf(unwrapSchema(schema));
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}

export type ChildLookup =
  | { ok: true; schema: z.ZodType }
  | { ok: false; reason: 'unknown-key'; allowed: string[] }
  | { ok: false; reason: 'not-an-index' }
  | { ok: false; reason: 'scalar' };

/** The schema of one child: a key of an object, any key of a record, an index of an array. */
export function childSchema(schema: z.ZodType, segment: string | number): ChildLookup {
  const def = defOf(unwrapSchema(schema));
  if (def.type === 'object' && def.shape) {
    const child = def.shape[String(segment)];
    return child ? { ok: true, schema: child } : { ok: false, reason: 'unknown-key', allowed: Object.keys(def.shape) };
  }
  if (def.type === 'record' && def.valueType) return { ok: true, schema: def.valueType };
  if (def.type === 'array' && def.element) {
    return /^\d+$/.test(String(segment)) ? { ok: true, schema: def.element } : { ok: false, reason: 'not-an-index' };
  }
  return { ok: false, reason: 'scalar' };
}

export type PathLookup =
  | { ok: true; schema: z.ZodType }
  | { ok: false; depth: number; lookup: Exclude<ChildLookup, { ok: true }> };

/** The schema at a key path; on failure, how deep the path was valid and why it stopped. */
export function schemaAt(root: z.ZodType, path: KeyPath): PathLookup {
  let current = root;
  for (let depth = 0; depth < path.length; depth++) {
    const lookup = childSchema(current, path[depth]!);
    if (!lookup.ok) return { ok: false, depth, lookup };
    current = lookup.schema;
  }
  return { ok: true, schema: current };
}
