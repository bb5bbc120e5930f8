/**
 * A tiny nginx config writer: blocks and directives as data, every argument checked by the
 * caller's guard before it gets here. Keeps the frontend and gateway renderers free of pasted
 * configuration text.
 */
export type NginxNode = { directive: string; args?: (string | number)[] } | { block: string; args?: (string | number)[]; children: NginxNode[] } | { comment: string };

const SAFE_ARG = /^[^\s;{}'"\\#]+$/;

function arg(value: string | number): string {
  const text = String(value);
  if (SAFE_ARG.test(text)) return text;
  // A quoted argument: nginx reads `"..."` with backslash escapes.
  if (/[\n\r]/.test(text)) throw new Error(`refusing to render an nginx argument with a line break: ${JSON.stringify(text)}`);
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

export function renderNginx(nodes: NginxNode[], indent = ''): string {
  let out = '';
  for (const node of nodes) {
    if ('comment' in node) {
      out += `${indent}# ${node.comment.replaceAll(/[\r\n]+/g, ' ')}\n`;
    } else if ('block' in node) {
      const args = (node.args ?? []).map(arg).join(' ');
      out += `${indent}${node.block}${args ? ` ${args}` : ''} {\n${renderNginx(node.children, `${indent}    `)}${indent}}\n`;
    } else {
      const args = (node.args ?? []).map(arg).join(' ');
      out += `${indent}${node.directive}${args ? ` ${args}` : ''};\n`;
    }
  }
  return out;
}

export const d = (directive: string, ...args: (string | number)[]): NginxNode => ({ directive, args });
export const block = (name: string, args: (string | number)[], children: NginxNode[]): NginxNode => ({ block: name, args, children });

/** HTTP/1.1 to the upstream with the client's host, address and scheme. */
export const PROXY_FORWARD_HEADERS: NginxNode[] = [
  d('proxy_http_version', '1.1'),
  d('proxy_set_header', 'Host', '$host'),
  d('proxy_set_header', 'X-Real-IP', '$remote_addr'),
  d('proxy_set_header', 'X-Forwarded-For', '$proxy_add_x_forwarded_for'),
  d('proxy_set_header', 'X-Forwarded-Proto', '$scheme'),
];

/** The forward headers, with upstream connections kept alive (no `Connection: close`). */
export const PROXY_HEADERS: NginxNode[] = [...PROXY_FORWARD_HEADERS, d('proxy_set_header', 'Connection', '')];
