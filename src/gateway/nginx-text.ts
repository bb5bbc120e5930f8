import { MstingError } from '../errors.js';
import { token, type NginxToken } from '../render/nginx.js';

/**
 * The only ways a value enters the rendered nginx config (templates/llm-gateway/nginx.conf.yml's
 * placeholders and the nodes src/gateway/render.ts computes). Each checks its input against an
 * allow-list and throws instead of quoting its way around a surprise, so no config value (a
 * model name, a repository id, a path) can close a block, end a directive or start a variable.
 * The schema already restricts these values; this is the second line, for values that reach
 * the renderer without it (tests, future callers, a hand-built config object). The nginx writer
 * checks a third time that each word is one nginx token.
 */

function refuse(what: string, value: string): never {
  throw new MstingError('CONFIG_INVALID', `The LLM gateway config cannot contain ${what} ${JSON.stringify(value).slice(0, 80)}.`, {
    hint: 'Model names are lower-case letters, digits and dashes; repository ids are org/name.',
  });
}

/** A bare word: host names, upstream names, map keys made of names. */
export function word(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_./:-]{0,127}$/.test(value)) refuse('the word', value);
  return value;
}

/**
 * An exact map key. The leading backslash makes nginx read it literally even when it spells one
 * of map's own parameters (`default`, `hostnames`, `include`, `volatile`), all valid model names.
 * nginx reads `\t`, `\n` and `\r` in any word as a tab, a line feed and a carriage return, so
 * before a name starting with t, n or r the backslash is itself escaped: nginx reads `\\tinyllama`
 * as `\tinyllama`, whose backslash map strips.
 */
export function mapKey(value: string): NginxToken {
  const name = word(value);
  return token(`${/^[tnr]/.test(name) ? '\\\\' : '\\'}${name}`);
}

/** An absolute path inside the container. */
export function path(value: string): string {
  if (!/^\/[A-Za-z0-9._/-]{0,200}$/.test(value) || value.includes('..')) refuse('the path', value);
  return value;
}

/** A positive whole number. */
export function int(value: number, min = 0, max = Number.MAX_SAFE_INTEGER): string {
  if (!Number.isInteger(value) || value < min || value > max) refuse('the number', String(value));
  return String(value);
}

/** nginx time: whole seconds when exact, else milliseconds. */
export function time(ms: number): string {
  int(ms, 1);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * A single-quoted nginx string for text with `"`, `{`, `}` and `;` in it (JSON bodies). The text
 * may name variables of the rendered config (`$msting_...`), nothing else: a `$` anywhere else,
 * a quote, a backslash or a control character is refused.
 */
export function quoted(text: string): NginxToken {
  if (!/^[\x20-\x7e]*$/.test(text) || /['\\]/.test(text)) refuse('the text', text);
  for (const m of text.matchAll(/\$/g)) {
    const rest = text.slice((m.index ?? 0) + 1);
    if (!/^(msting_[a-z_]+|upstream_cache_status)\b/.test(rest)) refuse('the text', text);
  }
  return token(`'${text}'`);
}

/** A JSON document as a quoted nginx string; `$msting_...` placeholders stay variables. */
export function json(value: unknown): NginxToken {
  return quoted(JSON.stringify(value));
}
