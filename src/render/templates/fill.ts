import { TEMPLATES } from './data.js';
import { PLACEHOLDER, type TemplateFile, type TemplateValues } from './names.js';

/**
 * A template filled in, as data for toYaml: a string that is one placeholder takes the value
 * itself (a list, a boolean, a number; undefined leaves the key or list item out), and as a whole
 * item of a list, a list value adds its items there; a placeholder inside a longer string takes
 * the value's text; `{{name}}` is text and stays as written (names.ts). Nothing is pasted into
 * YAML text, so a value can never add a key or end a string, and a value's own braces are never
 * read as placeholders.
 */
export function fillTemplate<F extends TemplateFile>(file: F, values: TemplateValues<F>): Record<string, unknown> {
  const lookup = values as Record<string, unknown>;
  const isWhole = (node: unknown): boolean => {
    const whole = typeof node === 'string' ? /^\{([^{}]+)\}$/.exec(node) : null;
    return whole !== null && whole[1]! in lookup;
  };
  const fill = (node: unknown): unknown => {
    if (typeof node === 'string') {
      // A copy: a value used twice must not become one shared node (a YAML anchor and alias).
      if (isWhole(node)) return structuredClone(lookup[node.slice(1, -1)]);
      return node.replace(PLACEHOLDER, (_, name: string) => {
        const value = lookup[name];
        if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`templates/${file}: {${name}} inside a string needs text, not ${typeof value}`);
        return String(value);
      });
    }
    if (Array.isArray(node)) {
      return node.flatMap((item) => {
        const filled = fill(item);
        if (filled === undefined) return [];
        return isWhole(item) && Array.isArray(filled) ? filled : [filled];
      });
    }
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).flatMap(([key, item]) => {
        const filled = fill(item);
        return filled === undefined ? [] : [[key, filled]];
      }));
    }
    return node;
  };
  return fill(TEMPLATES[file]) as Record<string, unknown>;
}
