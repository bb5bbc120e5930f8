import type { MstingConfig } from '../config/schema.js';
import { MstingError } from '../errors.js';
import type { VaultSummary } from '../lifecycle/status.js';
import { isVaultError, VaultError } from './client.js';
import { initVault } from './init.js';
import { DEV_MODE_WARNING, openVault } from './session.js';
import { describeVaultStatus, silentVaultState, vaultStatus, withContainerState, type VaultContainerState, type VaultStatus } from './status.js';
import { ensureUnsealed, type UnsealProgress } from './unseal.js';

/**
 * Vault's part of bringing the stack up, shared by `install` and `start`/`restart`/`restore`:
 * once the vault container runs, wait until Vault answers, unseal it (with the stored shares when
 * vault.auto_unseal allows), and wait until it serves. A dev-mode Vault forgets everything when
 * its container restarts, so it is bootstrapped again (mount, policies, tokens, secrets) on every
 * start; `install` bootstraps a server-mode Vault too (`initVault`, safe to run again).
 */

export interface BringUpVaultInput {
  config: Pick<MstingConfig, 'ports' | 'vault' | 'project'>;
  home: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
  /** Initialize (when new) and bootstrap a server-mode Vault as well, as install does. */
  bootstrap: boolean;
  timeoutMs?: number | undefined;
  onMessage?: (message: string) => void;
  onProgress?: (p: UnsealProgress) => void;
}

export interface BringUpVaultResult {
  status: VaultStatus;
  /** True when this call initialized Vault. */
  initializedNow: boolean;
  sharesPath: string | null;
  autoUnseal: boolean;
  /** Whether msting's bootstrap (initVault) ran. */
  bootstrapped: boolean;
  /** Secrets generated in this call (a dev Vault after a restart generates them all again). */
  secretsCreated: string[];
  warnings: string[];
}

/** Sealed with no way to unseal here: exit 5, pointing at `msting unseal`. */
function sealedError(err: VaultError): MstingError {
  return new VaultError('sealed', `${err.message}; the services that need it were not started`, {
    hint: err.hint?.includes('msting unseal') ? err.hint : 'run `msting unseal`, then `msting start` again',
  });
}

export async function bringUpVault(input: BringUpVaultInput): Promise<BringUpVaultResult> {
  const session = await openVault({ config: input.config, home: input.home, env: input.env });
  const dev = input.config.vault.mode === 'dev';
  const bootstrap = input.bootstrap || dev;
  const unseal = () =>
    ensureUnsealed({
      client: session.client,
      settings: input.config.vault,
      secretsDir: session.secretsDir,
      signal: input.signal,
      ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}),
      ...(input.onProgress ? { onProgress: input.onProgress } : {}),
    });
  let status: VaultStatus | undefined;
  try {
    status = await unseal();
  } catch (err) {
    // A new Vault is what the bootstrap is for; anything else is real.
    if (!(bootstrap && isVaultError(err, 'uninitialized'))) {
      throw isVaultError(err, 'sealed') ? sealedError(err as VaultError) : err;
    }
  }
  const warnings: string[] = dev ? [DEV_MODE_WARNING] : [];
  if (!bootstrap) {
    return { status: status!, initializedNow: false, sharesPath: null, autoUnseal: input.config.vault.auto_unseal, bootstrapped: false, secretsCreated: [], warnings };
  }
  const r = await initVault({
    client: session.client,
    settings: input.config.vault,
    secretsDir: session.secretsDir,
    token: session.tokenSource === 'VAULT_TOKEN' ? session.token : undefined,
    onStep: (step) => input.onMessage?.(step.message),
    ...(input.onProgress ? { onProgress: input.onProgress } : {}),
  });
  warnings.push(...r.warnings);
  if (dev && r.secretsCreated.length > 0 && r.secretsExisting.length === 0 && !input.bootstrap) {
    warnings.push(
      `the dev-mode Vault had forgotten its secrets (it keeps them in memory): ${r.secretsCreated.length} were generated again, so data written with the old ones (the database password in its volume) may no longer open`,
    );
  }
  status = await unseal();
  return {
    status,
    initializedNow: r.initializedNow,
    sharesPath: r.sharesPath,
    autoUnseal: r.autoUnseal,
    bootstrapped: true,
    secretsCreated: r.secretsCreated,
    warnings,
  };
}

/**
 * What `status` shows for Vault, given its container (undefined: none). Unreachable (with the
 * reason) when its container is not running or Vault does not answer; starting when the container
 * has just started and Vault does not answer yet.
 */
export async function vaultSummary(
  config: Pick<MstingConfig, 'ports' | 'vault' | 'project'>,
  ctx: { home: string; env: NodeJS.ProcessEnv },
  container: VaultContainerState | undefined,
): Promise<VaultSummary> {
  if (container?.state !== 'running') {
    const state = silentVaultState(container);
    const detail = state === 'starting' ? 'the vault container is restarting' : 'the vault container is not running';
    return { state, detail, mode: config.vault.mode, progress: null, threshold: null, address: null };
  }
  const session = await openVault({ config, home: ctx.home, env: ctx.env, timeoutMs: 5000 });
  const status = withContainerState(await vaultStatus(session.client), container);
  const detail =
    status.state === 'starting'
      ? 'the vault container runs; Vault does not answer yet'
      : status.state === 'unreachable'
        ? (status.error ?? undefined)
        : status.state === 'sealed'
          ? describeVaultStatus(status)
          : status.standby
            ? 'standby'
            : undefined;
  return {
    state: status.state,
    ...(detail ? { detail } : {}),
    mode: config.vault.mode,
    progress: status.state === 'sealed' ? (status.progress ?? 0) : null,
    threshold: status.threshold,
    address: status.address,
  };
}
