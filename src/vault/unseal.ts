import { setTimeout as sleep } from 'node:timers/promises';
import { VAULT_HINTS, VaultClient, VaultError, isVaultError, type SealStatus } from './client.js';
import { isServing, vaultStatus, type VaultStatus } from './status.js';
import { looksLikeShare, readStoredShares } from './store.js';
import type { VaultSettings } from './session.js';
import { MstingError } from '../errors.js';

export interface UnsealProgress {
  progress: number;
  threshold: number;
  sealed: boolean;
}

export interface UnsealOutcome {
  sealed: boolean;
  progress: number;
  threshold: number;
  /** Shares Vault took in this call. */
  accepted: number;
}

export function wrongShareError(threshold: number): VaultError {
  return new VaultError('invalid-request', `Vault rejected the unseal shares: progress went back to 0 of ${threshold}`, {
    hint: 'one of the shares entered is wrong (mistyped, or from another init); run `msting unseal` again with the right shares',
    status: 400,
  });
}

/**
 * Give Vault shares one by one until it unseals or they run out. A share Vault refuses, with the
 * progress back at 0, means the combination was wrong: it throws `wrongShareError`. Vault only
 * finds out once it has `threshold` shares, so a wrong share earlier in a round is reported then.
 */
export async function submitShares(client: VaultClient, shares: string[], onProgress?: (p: UnsealProgress) => void): Promise<UnsealOutcome> {
  let status: SealStatus = await client.sealStatus();
  if (!status.initialized) throw new VaultError('uninitialized', 'Vault is not initialized', { hint: VAULT_HINTS.uninitialized });
  let accepted = 0;
  for (const raw of shares) {
    if (!status.sealed) break;
    const share = raw.trim();
    if (!looksLikeShare(share)) {
      throw new MstingError('USAGE', 'that is not an unseal share (expected the hex or base64 text Vault printed at init)', {
        hint: 'check the shares file: one share a line, # for comments',
      });
    }
    const before = status.progress;
    try {
      status = await client.unseal(share);
    } catch (err) {
      if (isVaultError(err, 'invalid-request')) {
        const after = await client.sealStatus();
        if (after.sealed) throw wrongShareError(after.t || status.t);
      }
      throw err;
    }
    if (status.sealed && status.progress <= before && status.progress !== 0) {
      // Vault ignores a share it already has in this round.
      continue;
    }
    accepted += 1;
    onProgress?.({ progress: status.sealed ? status.progress : status.t, threshold: status.t, sealed: status.sealed });
  }
  return { sealed: status.sealed, progress: status.progress, threshold: status.t, accepted };
}

export interface EnsureUnsealedInput {
  client: VaultClient;
  settings: VaultSettings;
  secretsDir: string;
  /** How long to wait for Vault to answer, then to serve (default 120 s). */
  timeoutMs?: number;
  intervalMs?: number;
  signal?: AbortSignal;
  onProgress?: (p: UnsealProgress) => void;
  /** Called when the observed state changes (reachable, sealed, unsealed). */
  onState?: (status: VaultStatus) => void;
}

/**
 * What `start` calls once the vault container runs: wait until Vault answers, unseal it with the
 * stored shares when vault.auto_unseal allows, and wait until it serves (sys/seal-status says
 * unsealed and sys/health answers 200 or 429), not merely until the process is up.
 */
export async function ensureUnsealed(input: EnsureUnsealedInput): Promise<VaultStatus> {
  const deadline = Date.now() + (input.timeoutMs ?? 120_000);
  const interval = input.intervalMs ?? 500;
  let status = await waitFor(input, deadline, interval, (s) => s.state !== 'unreachable');
  if (status.state === 'unreachable') {
    throw new VaultError('unreachable', `Vault did not answer at ${status.address}`, { hint: VAULT_HINTS.unreachable });
  }
  if (status.state === 'uninitialized') throw new VaultError('uninitialized', 'Vault is not initialized', { hint: VAULT_HINTS.uninitialized });
  if (status.state === 'sealed') {
    const stored = await readStoredShares(input.secretsDir);
    if (!stored || !input.settings.auto_unseal) {
      throw new VaultError('sealed', `Vault is sealed (unseal progress ${status.progress ?? 0} of ${status.threshold ?? '?'})`, {
        hint: stored
          ? 'vault.auto_unseal is off: run `msting unseal`'
          : 'the shares are not stored on this host: run `msting unseal` (it prompts for them, or use --shares-file FILE)',
      });
    }
    const outcome = await submitShares(input.client, stored.keys_base64, input.onProgress);
    if (outcome.sealed) {
      throw new VaultError('sealed', `Vault is still sealed after the ${stored.keys_base64.length} stored shares (progress ${outcome.progress} of ${outcome.threshold})`, {
        hint: 'the stored shares do not match this Vault: run `msting unseal --shares-file FILE` with the right ones',
      });
    }
  }
  let serving = await isServing(input.client);
  while (!serving) {
    if (Date.now() >= deadline) {
      throw new VaultError('unavailable', 'Vault is unsealed but does not serve requests yet', { hint: VAULT_HINTS.unavailable });
    }
    await sleep(interval, undefined, { signal: input.signal });
    serving = await isServing(input.client);
  }
  status = await vaultStatus(input.client);
  input.onState?.(status);
  return status;
}

async function waitFor(input: EnsureUnsealedInput, deadline: number, interval: number, done: (s: VaultStatus) => boolean): Promise<VaultStatus> {
  let last: VaultStatus | undefined;
  for (;;) {
    const status = await vaultStatus(input.client);
    if (!last || last.state !== status.state) input.onState?.(status);
    last = status;
    if (done(status) || Date.now() >= deadline) return status;
    await sleep(interval, undefined, { signal: input.signal });
  }
}
