import type { MstingConfig } from '../config/schema.js';
import { installLayout } from '../layout.js';
import { VAULT_HINTS, VaultClient, VaultError, isVaultError } from './client.js';
import { readSecretFile, VAULT_FILES } from './store.js';

/** Vault settings a flow needs, taken from the config once. */
export type VaultSettings = MstingConfig['vault'];

/** VAULT_ADDR wins; else Vault's published port on this host. */
export function vaultAddress(config: Pick<MstingConfig, 'ports'>, env: NodeJS.ProcessEnv): string {
  const fromEnv = env.VAULT_ADDR?.trim();
  if (fromEnv) return fromEnv.replace(/\/+$/, '');
  return `http://127.0.0.1:${config.ports.vault}`;
}

/** Said by every command that uses a dev-mode Vault. */
export const DEV_MODE_WARNING =
  'vault.mode is "dev": Vault keeps everything in memory, so every secret vanishes when the vault container restarts (use vault.mode: server for anything you keep)';

export interface VaultSession {
  address: string;
  /** No token: seal-status, health, init, unseal. */
  client: VaultClient;
  secretsDir: string;
  settings: VaultSettings;
  /** Where the management token came from. */
  tokenSource: 'VAULT_TOKEN' | 'admin-token' | 'root-token' | null;
  token: string | undefined;
}

export interface OpenVaultInput {
  config: Pick<MstingConfig, 'ports' | 'vault'>;
  home: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * Connect to the stack's Vault: address from VAULT_ADDR or ports.vault; the management token from
 * VAULT_TOKEN, else msting's admin token, else the root token while it is still kept.
 */
export async function openVault(input: OpenVaultInput): Promise<VaultSession> {
  const address = vaultAddress(input.config, input.env);
  const secretsDir = installLayout(input.home).secretsDir;
  const client = new VaultClient({ address, ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}) });
  let token: string | undefined;
  let tokenSource: VaultSession['tokenSource'] = null;
  const fromEnv = input.env.VAULT_TOKEN?.trim();
  if (fromEnv) {
    token = fromEnv;
    tokenSource = 'VAULT_TOKEN';
  } else if ((token = await readSecretFile(secretsDir, VAULT_FILES.adminToken))) {
    tokenSource = 'admin-token';
  } else if ((token = await readSecretFile(secretsDir, VAULT_FILES.rootToken))) {
    tokenSource = 'root-token';
  }
  return { address, client, secretsDir, settings: input.config.vault, tokenSource, token };
}

/**
 * The management client, after renewing its token (msting's tokens are periodic: each use keeps
 * them alive). Throws when there is no token, or Vault refuses it.
 */
export async function managementClient(session: VaultSession): Promise<VaultClient> {
  if (!session.token) {
    throw new VaultError('missing-token', `no Vault token: ${session.secretsDir}/${VAULT_FILES.adminToken} does not exist`, {
      hint: VAULT_HINTS['missing-token'],
    });
  }
  const client = session.client.withToken(session.token);
  try {
    const info = await client.lookupSelf();
    if (info.renewable && info.period > 0) await client.renewSelf();
  } catch (err) {
    if (isVaultError(err, 'permission-denied')) {
      throw new VaultError('permission-denied', `Vault refused msting's token (${session.tokenSource}): it was revoked or has expired`, {
        hint:
          session.tokenSource === 'VAULT_TOKEN'
            ? 'unset VAULT_TOKEN to use msting\'s own token, or export a valid one'
            : 'a token with the msting-admin policy is needed: create one with a root token (`vault token create -policy=msting-admin -period=768h`) and write it to secrets/vault-admin-token',
        status: 403,
      });
    }
    throw err;
  }
  return client;
}

/** Load config.yml and connect, for the Vault commands. */
export async function openVaultForCommand(ctx: {
  configPath: string;
  configExplicit: boolean;
  env: NodeJS.ProcessEnv;
  home: string;
}): Promise<{ session: VaultSession; config: MstingConfig }> {
  const { loadConfig } = await import('../config/load.js');
  const { config } = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
  return { session: await openVault({ config, home: ctx.home, env: ctx.env }), config };
}
