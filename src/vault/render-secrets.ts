import type { MstingConfig } from '../config/schema.js';
import { installLayout } from '../layout.js';
import { NO_SECRETS, type SecretsProvider } from '../stack/secrets.js';
import { withHostSecrets } from './dev-token.js';
import { readSecretFile, VAULT_FILES } from './store.js';

/** msting holds a token to ask Vault with: VAULT_TOKEN, or one it stored at init. */
async function holdsToken(home: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  if (env.VAULT_TOKEN?.trim()) return true;
  const secretsDir = installLayout(home).secretsDir;
  for (const name of [VAULT_FILES.adminToken, VAULT_FILES.rootToken]) {
    if ((await readSecretFile(secretsDir, name)) !== undefined) return true;
  }
  return false;
}

/**
 * The secrets a render reads: from Vault when it is up, unsealed and msting has its token;
 * otherwise none (the renderer then keeps existing env files and reports the secrets pending),
 * with the reason passed to `onUnavailable`. Without any token there is nothing to ask, and the
 * Vault client is not even loaded.
 */
export async function renderSecretsFromVault(
  config: MstingConfig,
  ctx: { home: string; env: NodeJS.ProcessEnv },
  onUnavailable?: (reason: string) => void,
): Promise<SecretsProvider> {
  if (!(await holdsToken(ctx.home, ctx.env))) {
    onUnavailable?.('msting holds no Vault token yet (run `msting vault init` or `msting install`)');
    return withHostSecrets(NO_SECRETS, config, ctx.home);
  }
  const [{ isVaultError }, { managementClient, openVault }, { loadSecretsProvider }] = await Promise.all([
    import('./client.js'),
    import('./session.js'),
    import('./stack-secrets.js'),
  ]);
  const session = await openVault({ config, home: ctx.home, env: ctx.env });
  try {
    const client = await managementClient(session);
    return await withHostSecrets(await loadSecretsProvider(client, { config }), config, ctx.home);
  } catch (err) {
    if (isVaultError(err)) {
      onUnavailable?.(`${err.message}${err.hint ? ` (${err.hint})` : ''}`);
      return withHostSecrets(NO_SECRETS, config, ctx.home);
    }
    throw err;
  }
}
