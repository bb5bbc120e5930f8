import type { NginxNode } from '../nginx.js';

/**
 * nginx templates (`templates/<service>/nginx.conf.yml`) are nginx's blocks and directives as
 * YAML data, turned here into the nodes src/render/nginx.ts writes: `name: arg` or
 * `name: [args]` a directive, `name: {args, children}` a block, `comment: text` a comment, and a
 * `"{placeholder}"` list item left in place for fillTemplate to replace with computed nodes.
 */

/** A template's node that is not one of the forms above; `path` is its key path. */
export class NginxTemplateError extends Error {
  constructor(
    readonly path: string[],
    detail: string,
  ) {
    super(detail);
  }
}

const FORMS = 'a directive (name: args), a block (name: {args, children}), a comment or a "{placeholder}"';

function args(value: unknown, path: string[]): (string | number)[] {
  const list = Array.isArray(value) ? value : [value];
  list.forEach((item, i) => {
    if (typeof item !== 'string' && typeof item !== 'number') throw new NginxTemplateError(Array.isArray(value) ? [...path, String(i)] : path, 'an nginx argument is text or a number');
  });
  return list as (string | number)[];
}

/** The nodes of a template's list, checked; placeholders stay as they are. */
export function nginxNodes(value: unknown, path: string[]): (NginxNode | string)[] {
  if (!Array.isArray(value)) throw new NginxTemplateError(path, `a list of nginx nodes: ${FORMS}`);
  return value.map((item: unknown, i): NginxNode | string => {
    const at = [...path, String(i)];
    if (typeof item === 'string' && /^\{[a-z][a-z0-9_]*\}$/.test(item)) return item;
    if (item === null || typeof item !== 'object' || Array.isArray(item) || Object.keys(item).length !== 1) throw new NginxTemplateError(at, `not an nginx node: use ${FORMS}`);
    const [name, body] = Object.entries(item)[0]!;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new NginxTemplateError([...at, name], 'not an nginx directive name');
    if (name === 'comment') {
      if (typeof body !== 'string') throw new NginxTemplateError([...at, name], 'a comment is text');
      return { comment: body };
    }
    if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
      const { args: blockArgs, children, ...rest } = body as Record<string, unknown>;
      const unknown = Object.keys(rest)[0];
      if (unknown !== undefined) throw new NginxTemplateError([...at, name, unknown], 'unknown key: a block has args and children');
      return { block: name, args: blockArgs === undefined ? [] : args(blockArgs, [...at, name, 'args']), children: nginxNodes(children, [...at, name, 'children']) as NginxNode[] };
    }
    return { directive: name, args: args(body, [...at, name]) };
  });
}
