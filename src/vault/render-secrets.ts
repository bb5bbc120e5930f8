import type { MstingConfig } from '../config/schema.js';
import { NO_SECRETS, type SecretsProvider } from '../stack/secrets.js';
import { isVaultError } from './client.js';
import { withHostSecrets } from './dev-token.js';
import { managementClient, openVault } from './session.js';
import { loadSecretsProvider } from './stack-secrets.js';

/**
 * The secrets a render reads: from Vault when it is up, unsealed and msting has its token;
 * otherwise none (the renderer then keeps existing env files and reports the secrets pending),
 * with the reason passed to `onUnavailable`.
 */
export async function renderSecretsFromVault(
  config: MstingConfig,
  ctx: { home: string; env: NodeJS.ProcessEnv },
  onUnavailable?: (reason: string) => void,
): Promise<SecretsProvider> {
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
