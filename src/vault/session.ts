import type { MstingConfig } from '../config/schema.js';
import { installLayout } from '../layout.js';
import { MstingError } from '../errors.js';
import { VAULT_HINTS, VaultClient, VaultError, isVaultError } from './client.js';
import { readSecretFile, VAULT_FILES } from './store.js';

/** Vault settings a flow needs, taken from the config once. */
export type VaultSettings = MstingConfig['vault'];

/** Vault's listener inside its container (the stack's services reach it at vault:8200). */
export const VAULT_CONTAINER_PORT = 8200;

/**
 * Where the install's own Vault is while its container does not run: a name under `.invalid`
 * (RFC 6761), which never resolves, so nothing, least of all a token, leaves this host.
 */
export const VAULT_NOT_RUNNING_ADDRESS = `http://vault-container-not-running.invalid:${VAULT_CONTAINER_PORT}`;

type VaultConfig = Pick<MstingConfig, 'ports' | 'project'>;

/**
 * Finds the vault container's address on this host: its IPv4 address on one of the project's
 * networks (Linux routes the host to every bridge network, internal ones included). null when no
 * vault container runs.
 */
export type VaultLocator = (project: string) => Promise<string | null>;

const engineLocator = (env: NodeJS.ProcessEnv): VaultLocator => async (project) => {
  const { createDockerEngine } = await import('../docker/engine.js');
  const containers = await createDockerEngine(env).listContainers(project);
  const vault = containers.find((c) => c.service === 'vault' && (c.state === 'running' || c.state === 'restarting'));
  const ip = Object.entries(vault?.addresses ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))[0]?.[1];
  return ip ? `http://${ip}:${VAULT_CONTAINER_PORT}` : null;
};

/**
 * The install's own Vault: its published port on this host when ports.vault is set, else the
 * vault container's own address (Vault is not published by default; docs/security.md).
 */
export async function ownVaultAddress(config: VaultConfig, env: NodeJS.ProcessEnv, locate: VaultLocator = engineLocator(env)): Promise<string> {
  if (config.ports.vault !== undefined) return `http://127.0.0.1:${config.ports.vault}`;
  return (await locate(config.project.name)) ?? VAULT_NOT_RUNNING_ADDRESS;
}

/** VAULT_ADDR wins; else the install's own Vault. */
export async function vaultAddress(config: VaultConfig, env: NodeJS.ProcessEnv, locate?: VaultLocator): Promise<{ address: string; own: string }> {
  const own = await ownVaultAddress(config, env, locate);
  const fromEnv = env.VAULT_ADDR?.trim();
  return { address: fromEnv ? fromEnv.replace(/\/+$/, '') : own, own };
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
export function checkVaultAddress(address: string, ownAddress: string): { own: boolean } {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new MstingError('USAGE', `VAULT_ADDR is not a URL: ${JSON.stringify(address.slice(0, 200))}`, {
      hint: `unset VAULT_ADDR to use this install's Vault (${ownAddress}), or set it to https://HOST:PORT`,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MstingError('USAGE', `VAULT_ADDR must be an http:// or https:// URL (it is ${url.protocol}//...)`, {
      hint: `unset VAULT_ADDR to use this install's Vault (${ownAddress})`,
    });
  }
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw new MstingError('USAGE', `VAULT_ADDR is plain http:// to ${url.host}, another host: tokens and unseal keys would cross the network unencrypted`, {
      hint: `use https://${url.host}, or reach that Vault through an SSH tunnel to a 127.0.0.1 port; unset VAULT_ADDR for this install's own Vault`,
    });
  }
  const own = new URL(ownAddress);
  const port = (u: URL) => u.port || (u.protocol === 'https:' ? '443' : '80');
  const sameHost = isLoopback(own.hostname) ? isLoopback(url.hostname) : url.hostname === own.hostname;
  return { own: url.protocol === own.protocol && sameHost && port(url) === port(own) };
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
  config: Pick<MstingConfig, 'ports' | 'vault' | 'project'>;
  home: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Finds the vault container when Vault is not published (default: asks the Docker engine). */
  locate?: VaultLocator;
}

/**
 * Connect to the stack's Vault: address from VAULT_ADDR, else ports.vault when Vault is published,
 * else the vault container's address; the management token from
 * VAULT_TOKEN, else msting's admin token, else the root token while it is still kept. The stored
 * tokens go to the install's own Vault only: when VAULT_ADDR names another listener, the token
 * must come from VAULT_TOKEN.
 */
export async function openVault(input: OpenVaultInput): Promise<VaultSession> {
  const { address, own: ownAddress } = await vaultAddress(input.config, input.env, input.locate);
  const { own } = checkVaultAddress(address, ownAddress);
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
