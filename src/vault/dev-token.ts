import { randomBytes } from 'node:crypto';
import type { MstingConfig } from '../config/schema.js';
import { installLayout } from '../layout.js';
import { DEV_ROOT_TOKEN_ID, serviceTokenSecretId, VAULT_CLIENT_SERVICES, type SecretsProvider } from '../stack/secrets.js';
import { ensureSecretsDir, readSecretFile, serviceTokenFile, VAULT_FILES, writeSecretFile } from './store.js';

/**
 * A dev-mode Vault (`server -dev`) starts unsealed with a root token it is given in
 * VAULT_DEV_ROOT_TOKEN_ID. msting generates that token once, keeps it in secrets/vault-root-token
 * (0600) and renders it into the vault service's env file (0600), never into the compose file, so
 * it can bootstrap the dev Vault again after every restart.
 */

/** The dev root token, generated (0600, atomically) when there is none yet. */
export async function ensureDevRootToken(secretsDir: string): Promise<string> {
  const stored = await readSecretFile(secretsDir, VAULT_FILES.rootToken);
  if (stored) return stored;
  await ensureSecretsDir(secretsDir);
  const token = `hvs.dev${randomBytes(24).toString('base64url')}`;
  await writeSecretFile(secretsDir, VAULT_FILES.rootToken, token);
  return token;
}

/**
 * The provider a render uses, with the host-held secrets added: each Vault client service's own
 * token (secrets/vault-token-<service>, written by `vault init`; absent until then, so pending),
 * and in dev mode the dev root token.
 */
export async function withHostSecrets(provider: SecretsProvider, config: Pick<MstingConfig, 'vault'>, home: string): Promise<SecretsProvider> {
  const secretsDir = installLayout(home).secretsDir;
  const held = new Map<string, string>();
  for (const service of VAULT_CLIENT_SERVICES) {
    const token = await readSecretFile(secretsDir, serviceTokenFile(service));
    if (token !== undefined) held.set(serviceTokenSecretId(service), token);
  }
  if (config.vault.mode === 'dev') held.set(DEV_ROOT_TOKEN_ID, await ensureDevRootToken(secretsDir));
  if (held.size === 0) return provider;
  return {
    get: (id) => held.get(id) ?? provider.get(id),
    resolveRef: (path, key) => provider.resolveRef(path, key),
  };
}
