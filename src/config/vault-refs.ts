import type { SecretsProvider } from '../stack/secrets.js';
import { formatPath } from './problems.js';
import type { MstingConfig } from './schema.js';
import { VAULT_REF } from './vault-ref.js';

/** A `vault-ref:PATH#KEY` found in the config. Carries where it is, never the secret. */
export interface VaultRefUse {
  /** Dotted config key holding the ref, such as `mail.smtp.host`. */
  key: string;
  /** Vault KV path and key the ref names. */
  path: string;
  field: string;
}

export interface ResolvedVaultRefs {
  /** The config with every ref the provider knew replaced by its value. */
  config: MstingConfig;
  /** Refs replaced; their config keys are what `config show` masks. */
  resolved: VaultRefUse[];
  /** Refs the provider had no value for; the config keeps them as written. */
  unresolved: VaultRefUse[];
}

/** Every vault-ref in the config, in key order. */
export function findVaultRefs(config: MstingConfig): VaultRefUse[] {
  const found: VaultRefUse[] = [];
  visit(config, [], (value, path) => {
    const match = VAULT_REF.exec(value);
    if (match) found.push({ key: formatPath(path), path: match[1]!, field: match[2]! });
    return value;
  });
  return found;
}

/**
 * Replace `vault-ref:PATH#KEY` values with what the provider returns (Vault at render time, a
 * fixed map in tests). Pure: the input config is not changed.
 */
export function resolveVaultRefs(config: MstingConfig, provider: SecretsProvider): ResolvedVaultRefs {
  const resolved: VaultRefUse[] = [];
  const unresolved: VaultRefUse[] = [];
  const out = visit(config, [], (value, path) => {
    const match = VAULT_REF.exec(value);
    if (!match) return value;
    const use = { key: formatPath(path), path: match[1]!, field: match[2]! };
    const secret = provider.resolveRef(use.path, use.field);
    if (secret === undefined) {
      unresolved.push(use);
      return value;
    }
    resolved.push(use);
    return secret;
  }) as MstingConfig;
  return { config: out, resolved, unresolved };
}

function visit(node: unknown, path: (string | number)[], onString: (value: string, path: (string | number)[]) => string): unknown {
  if (typeof node === 'string') return onString(node, path);
  if (Array.isArray(node)) return node.map((item, i) => visit(item, [...path, i], onString));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, visit(v, [...path, k], onString)]));
  }
  return node;
}
