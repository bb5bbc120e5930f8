import type { MstingConfig } from '../config/schema.js';
import { installLayout } from '../layout.js';
import { MstingError } from '../errors.js';
import { VAULT_HINTS, VaultClient, VaultError, isVaultError } from './client.js';
import { readSecretFile, VAULT_FILES } from './store.js';

/** Vault settings a flow needs, taken from the config once. */
export type VaultSettings = MstingConfig['vault'];

/** The install's own Vault: its published port on this host. */
export function ownVaultAddress(config: Pick<MstingConfig, 'ports'>): string {
  return `http://127.0.0.1:${config.ports.vault}`;
}

/** VAULT_ADDR wins; else Vault's published port on this host. */
export function vaultAddress(config: Pick<MstingConfig, 'ports'>, env: NodeJS.ProcessEnv): string {
  const fromEnv = env.VAULT_ADDR?.trim();
  if (fromEnv) return fromEnv.replace(/\/+$/, '');
  return ownVaultAddress(config);
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Check an address msting is about to send tokens or unseal keys to. Refuses what is not an
 * http(s) URL, and plain http to a host other than this one (a token would cross the network in
 * clear). Says whether it is the install's own Vault: only that one gets msting's stored tokens.
 */
export function checkVaultAddress(address: string, config: Pick<MstingConfig, 'ports'>): { own: boolean } {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new MstingError('USAGE', `VAULT_ADDR is not a URL: ${JSON.stringify(address.slice(0, 200))}`, {
      hint: `unset VAULT_ADDR to use this install's Vault (${ownVaultAddress(config)}), or set it to https://HOST:PORT`,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MstingError('USAGE', `VAULT_ADDR must be an http:// or https:// URL (it is ${url.protocol}//...)`, {
      hint: `unset VAULT_ADDR to use this install's Vault (${ownVaultAddress(config)})`,
    });
  }
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw new MstingError('USAGE', `VAULT_ADDR is plain http:// to ${url.host}, another host: tokens and unseal keys would cross the network unencrypted`, {
      hint: `use https://${url.host}, or reach that Vault through an SSH tunnel to a 127.0.0.1 port; unset VAULT_ADDR for this install's own Vault`,
    });
  }
  const own = new URL(ownVaultAddress(config));
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return { own: url.protocol === own.protocol && isLoopback(url.hostname) && port === own.port };
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
  /** VAULT_ADDR names another Vault: msting's stored tokens were not used for it. */
  foreignAddress: boolean;
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
 * VAULT_TOKEN, else msting's admin token, else the root token while it is still kept. The stored
 * tokens go to the install's own Vault only: when VAULT_ADDR names another listener, the token
 * must come from VAULT_TOKEN.
 */
export async function openVault(input: OpenVaultInput): Promise<VaultSession> {
  const address = vaultAddress(input.config, input.env);
  const { own } = checkVaultAddress(address, input.config);
  const secretsDir = installLayout(input.home).secretsDir;
  const client = new VaultClient({ address, ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}) });
  let token: string | undefined;
  let tokenSource: VaultSession['tokenSource'] = null;
  const fromEnv = input.env.VAULT_TOKEN?.trim();
  if (fromEnv) {
    token = fromEnv;
    tokenSource = 'VAULT_TOKEN';
  } else if (!own) {
    token = undefined;
  } else if ((token = await readSecretFile(secretsDir, VAULT_FILES.adminToken))) {
    tokenSource = 'admin-token';
  } else if ((token = await readSecretFile(secretsDir, VAULT_FILES.rootToken))) {
    tokenSource = 'root-token';
  }
  return { address, client, secretsDir, settings: input.config.vault, tokenSource, foreignAddress: !own, token };
}

/**
 * The management client, after renewing its token (msting's tokens are periodic: each use keeps
 * them alive). Throws when there is no token, or Vault refuses it.
 */
export async function managementClient(session: VaultSession): Promise<VaultClient> {
  if (!session.token && session.foreignAddress) {
    throw new VaultError('missing-token', `VAULT_ADDR (${session.address}) is not this install's Vault: msting sends its stored token only to its own Vault`, {
      hint: 'export VAULT_TOKEN with a token for that Vault, or unset VAULT_ADDR to use this install\'s Vault',
    });
  }
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
