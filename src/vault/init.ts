import { join } from 'node:path';
import { MstingError } from '../errors.js';
import { SECRET_SPECS, type SecretSpec } from '../stack/secrets.js';
import { VAULT_HINTS, VaultClient, VaultError, isVaultError } from './client.js';
import {
  ADMIN_POLICY,
  AUDIT_DEVICE,
  AUDIT_FILE,
  KV_MOUNT,
  TOKEN_PERIOD,
  adminPolicy,
  planServicePolicies,
  servicePolicyName,
  serviceRoleName,
  vaultClientServices,
} from './policies.js';
import type { VaultSettings } from './session.js';
import { ensureStackSecrets } from './stack-secrets.js';
import {
  VAULT_FILES,
  ensureSecretsDir,
  readSecretFile,
  readStoredShares,
  removeSecretFile,
  serviceTokenFile,
  sharesDocument,
  writeSecretFile,
  writeSharesFile,
  writeStoredShares,
} from './store.js';
import { submitShares, type UnsealProgress } from './unseal.js';

export interface InitVaultInput {
  /** A client without a token: init and unseal need none. */
  client: VaultClient;
  settings: VaultSettings;
  secretsDir: string;
  /** Write the shares to this file for the operator to take away, and keep none on the host. */
  sharesFile?: string | undefined;
  /** Keep the root token (default: vault.keep_root_token). */
  keepRootToken?: boolean | undefined;
  /** The audit log file inside the vault container (default AUDIT_FILE). */
  auditFile?: string | undefined;
  /** A token to bootstrap with when msting has none of its own (VAULT_TOKEN). */
  token?: string | undefined;
  specs?: readonly SecretSpec[];
  onStep?: (step: InitStep) => void;
  onProgress?: (p: UnsealProgress) => void;
}

export type InitStepId =
  | 'initialized'
  | 'already-initialized'
  | 'shares-stored'
  | 'shares-file'
  | 'unsealed'
  | 'mount'
  | 'policies'
  | 'admin-token'
  | 'audit'
  | 'service-tokens'
  | 'secrets'
  | 'root-revoked'
  | 'root-kept';

export interface InitStep {
  id: InitStepId;
  message: string;
}

export interface InitVaultResult {
  /** True when this call initialized Vault; false when it already was. */
  initializedNow: boolean;
  mode: VaultSettings['mode'];
  shares: number | null;
  threshold: number | null;
  /** Where the shares were written (secrets/ file or the operator's file), when this call wrote them. */
  sharesPath: string | null;
  /** Shares are kept on this host, so `start` can unseal by itself. */
  autoUnseal: boolean;
  rootToken: 'revoked' | 'kept' | 'absent';
  policies: string[];
  serviceTokens: string[];
  secretsCreated: string[];
  secretsExisting: string[];
  warnings: string[];
}

/** Shares and threshold Vault will accept, with the warnings they deserve. */
export function checkShareSettings(shares: number, threshold: number): string[] {
  if (!Number.isInteger(shares) || shares < 1 || shares > 255) {
    throw new MstingError('CONFIG_INVALID', `vault.shares must be a whole number from 1 to 255 (it is ${shares})`, { hint: 'the default is 5 shares, threshold 3' });
  }
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > shares) {
    throw new MstingError('CONFIG_INVALID', `vault.threshold must be from 1 to vault.shares (${shares}); it is ${threshold}`, { hint: 'the default is 5 shares, threshold 3' });
  }
  if (shares > 1 && threshold < 2) {
    throw new MstingError('CONFIG_INVALID', 'vault.threshold must be at least 2 when there is more than one share', {
      hint: 'set vault.threshold: 3 (or vault.shares: 1 and vault.threshold: 1 for a laptop)',
    });
  }
  return shares === 1
    ? ['vault.shares is 1: a single unseal key opens Vault; fine for a laptop, not for a server that holds real data']
    : [];
}

/**
 * Initialize Vault and bootstrap what the stack needs from it. Safe to run again at any point:
 *
 * 1. `GET sys/init`. If Vault is new: refuse when shares from an earlier init are stored here;
 *    init with vault.shares/threshold; write every share and the root token (secrets/, 0600,
 *    atomically, or the shares to `sharesFile`) before anything else; unseal.
 * 2. Enable the KV v2 mount `sting/` when missing.
 * 3. Write msting's admin policy and one policy per service; create msting's admin token.
 * 4. AppRole roles and a token for each service that talks to Vault (secrets/vault-token-<service>).
 * 5. Generate every declared secret Vault lacks (create-only).
 * 6. Revoke the root token unless asked to keep it (dev mode keeps it: it is the only way back in).
 */
export async function initVault(input: InitVaultInput): Promise<InitVaultResult> {
  const step = (id: InitStepId, message: string): void => input.onStep?.({ id, message });
  const settings = input.settings;
  const dev = settings.mode === 'dev';
  const keepRoot = dev || (input.keepRootToken ?? settings.keep_root_token);
  const result: InitVaultResult = {
    initializedNow: false,
    mode: settings.mode,
    shares: null,
    threshold: null,
    sharesPath: null,
    autoUnseal: false,
    rootToken: 'absent',
    policies: [],
    serviceTokens: [],
    secretsCreated: [],
    secretsExisting: [],
    warnings: [],
  };
  if (dev && input.sharesFile) throw new MstingError('USAGE', '--shares-file needs vault.mode: server (a dev Vault has no shares to keep)');

  let seal = await input.client.sealStatus();
  if (!seal.initialized) {
    if (dev) {
      throw new VaultError('uninitialized', 'the dev-mode Vault answered as not initialized; a dev server starts initialized', {
        hint: 'check that the vault service runs `server -dev` (msting config render), or set vault.mode: server',
      });
    }
    result.warnings.push(...checkShareSettings(settings.shares, settings.threshold));
    const stored = await readStoredShares(input.secretsDir);
    if (stored) {
      throw new MstingError('VAULT', `Vault is not initialized, but unseal shares from an earlier init are stored in ${join(input.secretsDir, VAULT_FILES.unsealKeys)}`, {
        hint: 'Vault\'s storage was reset or this is another Vault. If that is intended, move the old shares file away (keep it if the old data matters), then run `msting vault init` again',
      });
    }
    // Fail before init, not after, when the shares cannot be written.
    await ensureSecretsDir(input.secretsDir);
    await writeSecretFile(input.secretsDir, '.write-test', 'ok');
    await removeSecretFile(input.secretsDir, '.write-test');

    const init = await input.client.init(settings.shares, settings.threshold);
    result.initializedNow = true;
    step('initialized', `initialized Vault with ${settings.shares} shares, threshold ${settings.threshold}`);
    // Written before unsealing: if anything fails after this point, nothing is lost.
    const doc = sharesDocument(init.keys_base64, settings.threshold);
    await writeSecretFile(input.secretsDir, VAULT_FILES.rootToken, init.root_token);
    if (input.sharesFile) {
      await writeSharesFile(input.sharesFile, doc);
      result.sharesPath = input.sharesFile;
      step('shares-file', `wrote the ${doc.shares} unseal shares to ${input.sharesFile}; take it off this host: msting keeps no copy`);
    } else {
      result.sharesPath = await writeStoredShares(input.secretsDir, doc);
      step('shares-stored', `stored the unseal shares and root token in ${input.secretsDir} (mode 0600)`);
    }
    const outcome = await submitShares(input.client, init.keys_base64.slice(0, settings.threshold), input.onProgress);
    if (outcome.sealed) throw new VaultError('sealed', 'Vault did not unseal with the shares it just created', { hint: VAULT_HINTS.server });
    step('unsealed', 'unsealed Vault');
    seal = await input.client.sealStatus();
  } else {
    step('already-initialized', 'Vault is already initialized');
    if (seal.sealed) {
      const stored = await readStoredShares(input.secretsDir);
      if (!stored) throw new VaultError('sealed', 'Vault is sealed and no shares are stored on this host', { hint: 'run `msting unseal` first, then `msting vault init` again' });
      const outcome = await submitShares(input.client, stored.keys_base64, input.onProgress);
      if (outcome.sealed) throw new VaultError('sealed', 'the stored shares did not unseal Vault', { hint: 'run `msting unseal --shares-file FILE` with the right shares' });
      step('unsealed', 'unsealed Vault with the stored shares');
      seal = await input.client.sealStatus();
    }
  }
  result.shares = seal.n || null;
  result.threshold = seal.t || null;
  result.autoUnseal = !dev && settings.auto_unseal && (await readStoredShares(input.secretsDir)) !== undefined;

  // Bootstrap with msting's admin token when it has one, else the root token (or VAULT_TOKEN).
  const rootToken = await readSecretFile(input.secretsDir, VAULT_FILES.rootToken);
  const adminToken = await readSecretFile(input.secretsDir, VAULT_FILES.adminToken);
  const root = rootToken ? input.client.withToken(rootToken) : undefined;
  let admin = adminToken ? input.client.withToken(adminToken) : undefined;
  if (admin && !(await tokenWorks(admin))) admin = undefined;
  const bootstrap = admin ?? root ?? (input.token ? input.client.withToken(input.token) : undefined);
  if (!bootstrap) {
    throw new VaultError('missing-token', 'Vault is initialized, but msting has neither its admin token nor the root token', {
      hint: 'set VAULT_TOKEN to a root token (from `vault operator generate-root`) and run `msting vault init` again',
    });
  }
  // The admin token must exist before the root token goes; only root (or VAULT_TOKEN) can make it.
  const creator = root ?? (input.token ? input.client.withToken(input.token) : undefined);

  await ensureKvMount(admin ?? creator ?? bootstrap);
  step('mount', `KV version 2 mount ${KV_MOUNT}/ is ready`);

  const policyClient = admin ?? creator ?? bootstrap;
  const adminPolicyState = await writeAdminPolicy(admin, creator);
  if (adminPolicyState === 'outdated') {
    result.warnings.push(
      `Vault's ${ADMIN_POLICY} policy is not the one this msting writes, and msting's admin token may not rewrite it: run \`VAULT_TOKEN=<root token> msting vault init\` once to replace it`,
    );
  }
  const servicePolicies = planServicePolicies(input.specs ?? SECRET_SPECS);
  for (const [name, hcl] of servicePolicies) await policyClient.putPolicy(name, hcl);
  result.policies = [ADMIN_POLICY, ...servicePolicies.keys()];
  step('policies', `wrote ${result.policies.length} policies (msting-admin, one per service)`);

  if (!admin) {
    if (!creator) throw new VaultError('missing-token', 'msting\'s admin token is missing or revoked, and the root token is gone', { hint: VAULT_HINTS['missing-token'] });
    const created = await creator.createToken({ policies: [ADMIN_POLICY], period: TOKEN_PERIOD, displayName: 'msting-admin', orphan: true });
    await writeSecretFile(input.secretsDir, VAULT_FILES.adminToken, created.token);
    admin = input.client.withToken(created.token);
    step('admin-token', `created msting's admin token (policy ${ADMIN_POLICY}) in ${join(input.secretsDir, VAULT_FILES.adminToken)}`);
  }

  const audit = await ensureAuditDevice(admin, input.auditFile ?? AUDIT_FILE);
  if (audit.warning) result.warnings.push(audit.warning);
  else step('audit', audit.enabledNow ? `enabled Vault's file audit device (${audit.file})` : `Vault's file audit device writes to ${audit.file}`);

  result.serviceTokens = await ensureServiceTokens(admin, input.secretsDir);
  step('service-tokens', `service tokens ready: ${result.serviceTokens.join(', ') || 'none'}`);

  const secrets = await ensureStackSecrets(admin, input.specs ?? SECRET_SPECS);
  result.secretsCreated = secrets.created;
  result.secretsExisting = secrets.existing;
  step('secrets', `secrets: ${secrets.created.length} generated, ${secrets.existing.length} already in Vault`);

  if (rootToken && !keepRoot) {
    try {
      await input.client.withToken(rootToken).revokeSelf();
    } catch (err) {
      // Already revoked elsewhere: the file is stale either way.
      if (!isVaultError(err, 'permission-denied')) throw err;
    }
    await removeSecretFile(input.secretsDir, VAULT_FILES.rootToken);
    result.rootToken = 'revoked';
    step('root-revoked', 'revoked the root token (msting works with its admin token from now on)');
  } else if (rootToken) {
    result.rootToken = 'kept';
    if (!dev) result.warnings.push(`the root token is kept in ${join(input.secretsDir, VAULT_FILES.rootToken)} (vault.keep_root_token): anyone who reads it owns Vault`);
    step('root-kept', 'kept the root token');
  }
  return result;
}

/**
 * Write msting's admin policy with the root token (or VAULT_TOKEN) when there is one. With only the
 * admin token: nothing to do when Vault already holds this policy; a policy written by an older
 * msting (which let the token write any `msting-*` policy, its own included) still allows the
 * token to replace it, once, with this narrower one; after that only a root token can change it.
 */
async function writeAdminPolicy(admin: VaultClient | undefined, creator: VaultClient | undefined): Promise<'written' | 'current' | 'outdated'> {
  const wanted = adminPolicy();
  if (creator) {
    try {
      await creator.putPolicy(ADMIN_POLICY, wanted);
      return 'written';
    } catch (err) {
      // VAULT_TOKEN may be msting's own admin token: go on as with the admin token.
      if (!isVaultError(err, 'permission-denied')) throw err;
    }
  }
  const reader = admin ?? creator;
  if (!reader) return 'outdated';
  let current: string | undefined;
  try {
    current = await reader.readPolicy(ADMIN_POLICY);
  } catch (err) {
    if (!isVaultError(err, 'permission-denied')) throw err;
  }
  if (current === wanted) return 'current';
  try {
    await reader.putPolicy(ADMIN_POLICY, wanted);
    return 'written';
  } catch (err) {
    if (isVaultError(err, 'permission-denied')) return 'outdated';
    throw err;
  }
}

/**
 * Vault's file audit device at `msting-file/`: every request Vault answers, one JSON line, with
 * secret values HMAC'd, written into the vault container's /vault/logs volume. A Vault that cannot
 * open the file (no such volume) is a warning, not a failed init: the stack still works.
 */
export async function ensureAuditDevice(admin: VaultClient, file: string): Promise<{ enabledNow: boolean; file: string; warning?: string }> {
  let devices;
  try {
    devices = await admin.auditDevices();
  } catch (err) {
    if (!isVaultError(err, 'permission-denied')) throw err;
    return { enabledNow: false, file, warning: `msting's admin token may not manage Vault's audit devices (its policy is outdated), so Vault's file audit device is not checked` };
  }
  const existing = devices[`${AUDIT_DEVICE}/`];
  if (existing) return { enabledNow: false, file: existing.options?.file_path ?? file };
  try {
    await admin.enableFileAudit(AUDIT_DEVICE, file, 'msting: every Vault request, values hashed');
    return { enabledNow: true, file };
  } catch (err) {
    if (!isVaultError(err, 'invalid-request')) throw err;
    return {
      enabledNow: false,
      file,
      warning: `Vault could not open its audit log ${file} (${err.errors.join('; ') || err.message}), so Vault requests are not audited; check that the vault service mounts a writable volume at ${file.slice(0, file.lastIndexOf('/'))}`,
    };
  }
}

async function tokenWorks(client: VaultClient): Promise<boolean> {
  try {
    await client.lookupSelf();
    return true;
  } catch (err) {
    if (isVaultError(err, 'permission-denied')) return false;
    throw err;
  }
}

/** Enable `sting/` as KV version 2 when missing; refuse a `sting/` mount of another kind. */
export async function ensureKvMount(client: VaultClient): Promise<void> {
  const mounts = await client.mounts();
  const existing = mounts[`${KV_MOUNT}/`];
  if (existing) {
    const version = String(existing.options?.version ?? '1');
    if (existing.type !== 'kv' || version !== '2') {
      throw new MstingError('VAULT', `${KV_MOUNT}/ is mounted as ${existing.type} version ${version}, not KV version 2`, {
        hint: `move that mount away (vault secrets move ${KV_MOUNT}/ ...), then run \`msting vault init\` again`,
      });
    }
    return;
  }
  await client.enableKv2(KV_MOUNT, 'STING-CE stack secrets (msting)');
}

/**
 * Each service that talks to Vault gets an AppRole role bound to its own policy, and a periodic
 * token from logging in with it, in secrets/vault-token-<service>. A stored token that still works
 * is kept (and renewed by its service); a revoked or expired one is replaced.
 */
export async function ensureServiceTokens(admin: VaultClient, secretsDir: string): Promise<string[]> {
  const services = vaultClientServices();
  if (services.length === 0) return [];
  const auths = await admin.authMethods();
  if (!auths['approle/']) await admin.enableAuth('approle', 'approle');
  for (const service of services) {
    await admin.writeApproleRole(serviceRoleName(service), {
      tokenPolicies: [servicePolicyName(service)],
      tokenPeriod: TOKEN_PERIOD,
      secretIdNumUses: 1,
      secretIdTtl: '10m',
    });
    const stored = await readSecretFile(secretsDir, serviceTokenFile(service));
    if (stored && (await admin.lookupToken(stored))) continue;
    const roleId = await admin.approleRoleId(serviceRoleName(service));
    const secretId = await admin.approleSecretId(serviceRoleName(service));
    const login = await admin.approleLogin(roleId, secretId);
    await writeSecretFile(secretsDir, serviceTokenFile(service), login.token);
  }
  return [...services];
}
