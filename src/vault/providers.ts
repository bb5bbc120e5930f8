import { MstingError } from '../errors.js';
import type { VaultClient } from './client.js';
import { KV_MOUNT } from './policies.js';

/**
 * API keys of outside providers (openai, anthropic, huggingface, ...), one KV document each at
 * `sting/providers/<name>`, key `api_key`. msting reads them (the Hugging Face token for model
 * downloads); a service gets one only through a `vault-ref:providers/<name>#api_key` in config.yml.
 */

export const PROVIDERS_FOLDER = 'providers';
export const PROVIDER_KEY = 'api_key';
export const KNOWN_PROVIDERS = ['anthropic', 'azure_openai', 'cohere', 'google', 'groq', 'huggingface', 'minimax', 'mistral', 'openai'] as const;

const NAME = /^[a-z][a-z0-9_-]{0,62}$/;

export function providerPath(name: string): string {
  if (!NAME.test(name)) {
    throw new MstingError('USAGE', `"${name}" is not a provider name (lower-case letters, digits, "_" and "-")`, {
      hint: `for example: ${KNOWN_PROVIDERS.join(', ')}`,
    });
  }
  return `${PROVIDERS_FOLDER}/${name}`;
}

export interface ProviderSecretInfo {
  provider: string;
  version: number;
  updatedTime: string;
}

export async function listProviderSecrets(client: VaultClient): Promise<ProviderSecretInfo[]> {
  const names = (await client.kvList(KV_MOUNT, PROVIDERS_FOLDER)).filter((k) => !k.endsWith('/'));
  const out: ProviderSecretInfo[] = [];
  for (const name of names) {
    const meta = await client.kvMetadata(KV_MOUNT, `${PROVIDERS_FOLDER}/${name}`);
    const current = meta?.versions[String(meta.currentVersion)];
    // A soft-deleted latest version is not a stored key.
    if (!meta || !current || current.deletion_time !== '' || current.destroyed) continue;
    out.push({ provider: name, version: meta.currentVersion, updatedTime: meta.updatedTime });
  }
  return out;
}

/** Store a provider key (a new version when one exists). Returns the version written. */
/** The largest value `vault-secret set` stores: far above any API key, far below what could hurt Vault. */
export const MAX_SECRET_BYTES = 16 * 1024;

export function secretTooLarge(bytes: number | string): MstingError {
  const size = typeof bytes === 'number' ? `over ${MAX_SECRET_BYTES} bytes` : `${Buffer.byteLength(bytes)} bytes`;
  return new MstingError('USAGE', `the secret is ${size}; the limit is 16 KiB (${MAX_SECRET_BYTES} bytes), and nothing was stored`, {
    hint: 'an API key is one short line: check what you piped in (a file or a whole document is not a key)',
  });
}

export async function setProviderSecret(client: VaultClient, name: string, value: string): Promise<number> {
  const trimmed = value.trim();
  if (trimmed === '') throw new MstingError('USAGE', 'the secret is empty', { hint: 'pipe the value on standard input, or type it at the prompt' });
  if (Buffer.byteLength(trimmed) > MAX_SECRET_BYTES) throw secretTooLarge(trimmed);
  if (/[\r\n]/.test(trimmed)) throw new MstingError('USAGE', 'the secret spans several lines; give one line', { hint: 'check what you piped in' });
  return client.kvWrite(KV_MOUNT, providerPath(name), { [PROVIDER_KEY]: trimmed });
}

/** The key of a provider, or undefined when none is stored. */
export async function readProviderSecret(client: VaultClient, name: string): Promise<string | undefined> {
  const secret = await client.kvRead(KV_MOUNT, providerPath(name));
  return secret?.data[PROVIDER_KEY];
}

/** Delete every version. Returns false when there was nothing to delete. */
export async function deleteProviderSecret(client: VaultClient, name: string): Promise<boolean> {
  const path = providerPath(name);
  const meta = await client.kvMetadata(KV_MOUNT, path);
  if (!meta) return false;
  await client.kvDestroyAll(KV_MOUNT, path);
  return true;
}

/** For display: the first and last characters at most, never enough to use. */
export function maskSecret(value: string): string {
  if (value.length < 12) return '*'.repeat(8);
  return `${value.slice(0, 3)}${'*'.repeat(8)}${value.slice(-2)}`;
}
