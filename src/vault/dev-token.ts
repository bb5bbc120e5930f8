import { randomBytes } from 'node:crypto';
import type { MstingConfig } from '../config/schema.js';
import { installLayout } from '../layout.js';
import type { SecretsProvider } from '../stack/secrets.js';
import { ensureSecretsDir, readSecretFile, VAULT_FILES, writeSecretFile } from './store.js';

/**
 * A dev-mode Vault (`server -dev`) starts unsealed with a root token it is given in
 * VAULT_DEV_ROOT_TOKEN_ID. msting generates that token once, keeps it in secrets/vault-root-token
 * (0600) and renders it into the vault service's env file (0600), never into the compose file, so
 * it can bootstrap the dev Vault again after every restart.
 */

/** Secret id of the dev root token in the vault env file; held on the host, not in Vault. */
export const DEV_ROOT_TOKEN_ID = 'vault.dev_root_token';

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
 * The provider a render uses, with the host-held secrets added: in dev mode, the dev root token.
 * In server mode the provider is returned as it is.
 */
export async function withHostSecrets(provider: SecretsProvider, config: Pick<MstingConfig, 'vault'>, home: string): Promise<SecretsProvider> {
  if (config.vault.mode !== 'dev') return provider;
  const token = await ensureDevRootToken(installLayout(home).secretsDir);
  return {
    get: (id) => (id === DEV_ROOT_TOKEN_ID ? token : provider.get(id)),
    resolveRef: (path, key) => provider.resolveRef(path, key),
  };
}
