import { isNginxToken, type NginxArg, type NginxNode } from '../nginx.js';

/**
 * nginx templates (`templates/<service>/nginx.conf.yml`) are nginx's blocks and directives as
 * YAML data, turned here into the nodes src/render/nginx.ts writes: `name: arg` or
 * `name: [args]` a directive (in a map, `key: value`), `name: {args, children}` a block,
 * `comment: text` comment lines, `blank` an empty line, `{when: "{flag}", children}` nodes written
 * only when the renderer sets the flag, and a `"{placeholder}"` list item left in place for
 * fillTemplate to replace with computed nodes. A list inside a list of nodes (a YAML alias of a
 * shared list) adds its nodes in its place. An argument or key written in nginx's quotes
 * (`'"$a$b"'`, `"'text'"`) is written as it is; any other is quoted by the writer if it needs to be.
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

/** Nodes written only when `when` is true: a `"{flag}"` until the template is filled, then a boolean. */
export interface NginxWhen {
  when: unknown;
  children: NginxTemplateNode[];
}

/** A node of a parsed template: a `"{placeholder}"` string until the template is filled. */
export type NginxTemplateNode = NginxNode | NginxWhen | string;

const FORMS = 'a directive (name: args), a block (name: {args, children}), a comment, blank, a when (when: "{flag}", children) or a "{placeholder}"';
const WHOLE_PLACEHOLDER = /^\{[a-z][a-z0-9_]*\}$/;

/** An argument or key as written: in nginx's quotes a token (checked here, at build), else text the writer quotes. */
function word(text: string, path: string[]): NginxArg {
  if (!/^["']/.test(text)) return text;
  if (!isNginxToken(text)) throw new NginxTemplateError(path, 'a quoted nginx word must be one whole string: its quote escaped inside, no line break');
  return { token: text };
}

function args(value: unknown, path: string[]): NginxArg[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((item: unknown, i) => {
    const at = Array.isArray(value) ? [...path, String(i)] : path;
    if (typeof item === 'number') return item;
    if (typeof item !== 'string') throw new NginxTemplateError(at, 'an nginx argument is text or a number');
    return word(item, at);
  });
}

function node(item: unknown, at: string[]): NginxTemplateNode {
  if (typeof item === 'string' && WHOLE_PLACEHOLDER.test(item)) return item;
  if (item === 'blank') return { blank: true };
  if (item !== null && typeof item === 'object' && !Array.isArray(item) && 'when' in item) {
    const { when, children, ...rest } = item as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw new NginxTemplateError([...at, unknown], 'unknown key: a when has when and children');
    if (typeof when !== 'string' || !WHOLE_PLACEHOLDER.test(when)) throw new NginxTemplateError([...at, 'when'], 'when is a "{flag}" the renderer sets');
    return { when, children: nginxNodes(children, [...at, 'children']) };
  }
  if (item === null || typeof item !== 'object' || Array.isArray(item) || Object.keys(item).length !== 1) throw new NginxTemplateError(at, `not an nginx node: use ${FORMS}`);
  const [name, body] = Object.entries(item)[0]!;
  if (name === 'comment') {
    if (typeof body !== 'string') throw new NginxTemplateError([...at, name], 'a comment is text');
    return { comment: body };
  }
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new NginxTemplateError([...at, name], 'not an nginx block name');
    const { args: blockArgs, children, ...rest } = body as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw new NginxTemplateError([...at, name, unknown], 'unknown key: a block has args and children');
    return { block: name, args: blockArgs === undefined ? [] : args(blockArgs, [...at, name, 'args']), children: nginxNodes(children, [...at, name, 'children']) as NginxNode[] };
  }
  // A directive's name, or in a map a key: `""`, `00`, a regex in quotes.
  if (/\s/.test(name) && !/^["']/.test(name)) throw new NginxTemplateError([...at, name], 'not an nginx directive name or map key: a key with spaces is written in quotes');
  return { directive: word(name, [...at, name]), args: args(body, [...at, name]) };
}

/** The nodes of a template's list, checked; placeholders and whens stay as they are until the template is filled. */
export function nginxNodes(value: unknown, path: string[]): NginxTemplateNode[] {
  if (!Array.isArray(value)) throw new NginxTemplateError(path, `a list of nginx nodes: ${FORMS}`);
  return value.flatMap((item: unknown, i) => (Array.isArray(item) ? nginxNodes(item, [...path, String(i)]) : [node(item, [...path, String(i)])]));
}

/** A filled template's nodes as the writer takes them: each when's children in its place when its flag is true, left out when false. */
export function filledNginxNodes(nodes: unknown): NginxNode[] {
  return (nodes as (NginxNode | NginxWhen)[]).flatMap((item): NginxNode[] => {
    if ('when' in item) {
      if (typeof item.when !== 'boolean') throw new Error(`an nginx template's when needs true or false, not ${JSON.stringify(item.when)}`);
      return item.when ? filledNginxNodes(item.children) : [];
    }
    if ('block' in item) return [{ ...item, children: filledNginxNodes(item.children) }];
    return [item];
  });
}
