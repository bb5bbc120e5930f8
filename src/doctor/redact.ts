/**
 * Redaction for anything msting writes for other eyes: the run log, the support bundle.
 * Two nets: every value msting knows to be secret (from Vault, secrets/ and env files) is
 * replaced wherever it appears, and anything shaped like a credential (Vault tokens, private
 * keys, `password=...` assignments, URLs with a password) is replaced even when msting did not
 * know it.
 */

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const REDACTED = '[redacted]';

/** Values shorter than this are not searched for: they would blank out ordinary words. */
export const MIN_SECRET_LENGTH = 6;

const KEY_NAME = /(pass(word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|cipher|cookie|credential|auth|dsn|salt|unseal|root[_-]?token|client[_-]?secret)/i;

const PATTERNS: ReadonlyArray<[RegExp, string | ((match: string, ...groups: string[]) => string)]> = [
  // PEM private keys, whole.
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, `-----BEGIN PRIVATE KEY-----\n${REDACTED}\n-----END PRIVATE KEY-----`],
  // Vault tokens (service, batch, recovery, legacy) and Hugging Face / GitHub / OpenAI style tokens.
  [/\b(hv[sbr]\.[A-Za-z0-9_-]{20,})/g, REDACTED],
  [/\b(hf_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|xox[abp]-[A-Za-z0-9-]{10,})/g, REDACTED],
  // JSON Web Tokens.
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, REDACTED],
  // scheme://user:password@host
  [/([a-z][a-z0-9+.-]*:\/\/[^\s:@/]+:)([^\s@/]+)(@)/gi, (_m, a: string, _p: string, c: string) => `${a}${REDACTED}${c}`],
  // Authorization headers.
  [/(authorization:\s*(bearer|basic|token)\s+)(\S+)/gi, (_m, a: string) => `${a}${REDACTED}`],
];

/** KEY=value lines (env files), key: value (YAML), "key": "value" (JSON) where the key names a secret. */
function redactAssignments(text: string): string {
  return text
    .replace(/^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_.-]*)(\s*=\s*)(.*)$/gm, (m, lead: string, key: string, eq: string, value: string) =>
      KEY_NAME.test(key) && value.trim() !== '' ? `${lead}${key}${eq}${REDACTED}` : m,
    )
    .replace(/^(\s*-?\s*)([A-Za-z_][A-Za-z0-9_.-]*)(:\s+)(?![|>]\s*$)(\S.*)$/gm, (m, lead: string, key: string, colon: string, value: string) =>
      KEY_NAME.test(key) && !/^vault-ref:/.test(value.trim()) && !/^(true|false|null|~|\{\}|\[\])$/.test(value.trim()) ? `${lead}${key}${colon}${REDACTED}` : m,
    )
    .replace(/("([A-Za-z0-9_.-]+)"\s*:\s*)"((?:[^"\\]|\\.)*)"/g, (m, lead: string, key: string, value: string) =>
      KEY_NAME.test(key) && value !== '' ? `${lead}"${REDACTED}"` : m,
    );
}

export interface Redactor {
  /** Add values to hide from now on (ignored when shorter than MIN_SECRET_LENGTH). */
  add(values: Iterable<string>): void;
  /** Text with every known secret and every credential-shaped string replaced. */
  text(input: string): string;
  /** A JSON-compatible value with every string redacted, and values under secret-named keys replaced. */
  value<T>(input: T): T;
  /** How many distinct values are known. */
  readonly size: number;
}

export function createRedactor(initial: Iterable<string> = []): Redactor {
  const known = new Set<string>();
  let ordered: string[] = [];
  const add = (values: Iterable<string>): void => {
    let changed = false;
    for (const raw of values) {
      const v = raw.trim();
      if (v.length >= MIN_SECRET_LENGTH && !known.has(v)) {
        known.add(v);
        changed = true;
      }
    }
    // Longest first, so a secret that contains another is replaced whole.
    if (changed) ordered = [...known].sort((a, b) => b.length - a.length);
  };
  add(initial);
  const text = (input: string): string => {
    let out = input;
    for (const secret of ordered) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement as never);
    return redactAssignments(out);
  };
  const value = <T>(input: T): T => {
    const walk = (node: unknown, key?: string): unknown => {
      if (typeof node === 'string') return key !== undefined && KEY_NAME.test(key) && node !== '' && !node.startsWith('vault-ref:') ? REDACTED : text(node);
      if (Array.isArray(node)) return node.map((item) => walk(item));
      if (node !== null && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, k)]));
      return node;
    };
    return walk(input) as T;
  };
  return {
    add,
    text,
    value,
    get size() {
      return known.size;
    },
  };
}

/** A value that looks generated: long, one token, letters and digits mixed. */
export function looksRandom(value: string): boolean {
  return value.length >= 20 && /^[A-Za-z0-9+/=_.~-]+$/.test(value) && /[0-9]/.test(value) && /[A-Za-z]/.test(value) && !/^[a-z0-9.-]+\.[a-z]{2,}$/i.test(value);
}

/**
 * Secret values of an env file (KEY=value lines): those under a secret-named key and those that
 * look generated. Host names, ports and flags stay readable.
 */
export function envSecretValues(content: string): string[] {
  const values: string[] = [];
  for (const line of content.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    if (v === '') continue;
    if (KEY_NAME.test(m[1]!) || looksRandom(v)) values.push(v);
    // A URL with a password carries it inside.
    const inUrl = /^[a-z][a-z0-9+.-]*:\/\/[^\s:@/]+:([^\s@/]+)@/i.exec(v);
    if (inUrl) values.push(decodeURIComponent(inUrl[1]!));
  }
  return values;
}

/** Secret values on disk: every file in secrets/ and the secret-looking values of env files. */
export async function collectSecretValues(home: string): Promise<string[]> {
  const values: string[] = [];
  const secretsDir = join(home, 'secrets');
  for (const name of await readdir(secretsDir).catch(() => [] as string[])) {
    const text = await readFile(join(secretsDir, name), 'utf8').catch(() => '');
    values.push(text.trim());
    // JSON documents (unseal shares) hold their secrets inside.
    try {
      const walk = (node: unknown): void => {
        if (typeof node === 'string') values.push(node);
        else if (Array.isArray(node)) node.forEach(walk);
        else if (node && typeof node === 'object') Object.values(node).forEach(walk);
      };
      walk(JSON.parse(text));
    } catch {
      for (const line of text.split('\n')) if (line.trim()) values.push(line.trim());
    }
  }
  for (const name of await readdir(join(home, 'env')).catch(() => [] as string[])) {
    values.push(...envSecretValues(await readFile(join(home, 'env', name), 'utf8').catch(() => '')));
  }
  return values.filter((v) => v.length > 0);
}
