import { formatPath } from './problems.js';

/**
 * What `config show` and `config get` never print. A text value is masked when:
 *  - its key was filled from Vault (a resolved vault-ref), or
 *  - its key's last word names a secret: password, passwd, passphrase, secret, token, apikey /
 *    api_key, private_key, credential(s), cipher, or the bare word `key` (so `auto_unseal` and
 *    `keep_root_token: false` stay visible: only text values are masked), or
 *  - it is a URL with a password in it (`scheme://user:pass@host`): the password part is masked.
 * Unresolved vault-refs stay as written: they are pointers, not secrets.
 */
export const MASK = '********';

const SECRET_KEY = /(^|[_-])(password|passwd|passphrase|secret|token|api[_-]?key|private[_-]?key|credentials?|cipher|key)$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/:@\s]+:)([^/@\s]+)(@)/i;

export function maskValue(key: string | number | undefined, value: string): string {
  if (value.startsWith('vault-ref:')) return value;
  if (key !== undefined && typeof key === 'string' && isSecretKey(key) && value !== '') return MASK;
  return value.replace(URL_PASSWORD, `$1${MASK}$3`);
}

/** A copy of `value` with secret-looking text masked; `resolvedKeys` are dotted keys filled from Vault. */
export function maskSecrets<T>(value: T, resolvedKeys: readonly string[] = [], base: (string | number)[] = []): T {
  const resolved = new Set(resolvedKeys);
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') return resolved.has(formatPath(path)) ? MASK : maskValue(path.at(-1), node);
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return node;
  };
  return walk(value, base) as T;
}
