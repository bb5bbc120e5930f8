/**
 * A tiny nginx config writer: blocks, directives, comments and blank lines as data. Every word it
 * writes (a directive's name, a map key, an argument) is exactly one nginx token, so no value can
 * end a directive, open or close a block, or start a comment: a value is written bare when nginx
 * reads it as it is, else quoted, with what nginx would read as an escape escaped; a token
 * (`{ token }`, a word already in nginx's own syntax) is written as it is once checked to be one
 * word. The caller's guards decide what a value may say (src/render/guard.ts,
 * src/gateway/nginx-text.ts); this decides only how it is written.
 */

/** A word in nginx's own syntax, written as it is: `"$a$b"`, `'{"status":"healthy"}'`, `\default`. */
export interface NginxToken {
  token: string;
}

export type NginxArg = string | number | NginxToken;

export type NginxNode =
  /** `name args;` (in a map, `key value;`). */
  | { directive: NginxArg; args?: NginxArg[] }
  | { block: string; args?: NginxArg[]; children: NginxNode[] }
  /** One `# ...` line per line of the text. */
  | { comment: string }
  | { blank: true };

/** What nginx reads bare, as it is: no space, control character, quote, `;`, brace, `#` or backslash. */
const BARE = /^[^\s;{}'"\\#\p{Cc}]+$/u;
const CONTROL = /\p{Cc}/u;
/** Bare, with backslash escapes of visible characters (`\phi3`, `\\tinyllama`). */
const BARE_TOKEN = /^(?:[^\s;{}'"\\#\p{Cc}]|\\[^\s\p{Cc}])+$/u;
/** Quoted: nothing inside ends the string early; every backslash escapes a visible character. */
const QUOTED_TOKEN = [/^"(?:[^"\\\p{Cc}]|\\\P{Cc})*"$/u, /^'(?:[^'\\\p{Cc}]|\\\P{Cc})*'$/u];

/** Whether `text` is exactly one nginx word: bare, or one whole quoted string. */
export function isNginxToken(text: string): boolean {
  return BARE_TOKEN.test(text) || QUOTED_TOKEN.some((re) => re.test(text));
}

/**
 * `text` quoted so nginx reads exactly `text`: single quotes when it holds a double quote and no
 * single one (JSON), double quotes otherwise. nginx drops a backslash before a quote or a
 * backslash and reads `\t`, `\r`, `\n` as control characters, so only those backslashes (and the
 * quote itself) are escaped; `\s` in a regex stays `\s`.
 */
function quote(text: string): string {
  if (CONTROL.test(text)) throw new Error(`refusing to render an nginx argument with a line break or control character: ${JSON.stringify(text)}`);
  const q = text.includes('"') && !text.includes("'") ? "'" : '"';
  return `${q}${text.replace(/\\(?=["'\\trn]|$)/g, '\\\\').replaceAll(q, `\\${q}`)}${q}`;
}

function word(value: NginxArg): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`refusing to render the nginx argument ${value}`);
    return String(value);
  }
  if (typeof value === 'string') return BARE.test(value) ? value : quote(value);
  if (value === null || typeof value !== 'object' || typeof value.token !== 'string' || !isNginxToken(value.token)) {
    throw new Error(`refusing to render an nginx word that is not one token: ${JSON.stringify(value)}`);
  }
  return value.token;
}

function line(name: NginxArg, args: NginxArg[] | undefined): string {
  return [name, ...(args ?? [])].map(word).join(' ');
}

export function renderNginx(nodes: NginxNode[], indent = ''): string {
  let out = '';
  for (const node of nodes) {
    if ('blank' in node) {
      out += '\n';
    } else if ('comment' in node) {
      for (const text of node.comment.split(/\r\n|\r|\n/)) out += `${indent}#${text === '' ? '' : ` ${text}`}\n`;
    } else if ('block' in node) {
      out += `${indent}${line(node.block, node.args)} {\n${renderNginx(node.children, `${indent}    `)}${indent}}\n`;
    } else {
      out += `${indent}${line(node.directive, node.args)};\n`;
    }
  }
  return out;
}

export const d = (directive: NginxArg, ...args: NginxArg[]): NginxNode => ({ directive, args });
export const block = (name: string, args: NginxArg[], children: NginxNode[]): NginxNode => ({ block: name, args, children });
export const token = (text: string): NginxToken => ({ token: text });

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
