import { isVaultError, type VaultClient } from './client.js';

/** Vault as `status` shows it. Expected states are values: nothing here throws for them. */
export type VaultState = 'uninitialized' | 'sealed' | 'unsealed' | 'unreachable';

export interface VaultStatus {
  state: VaultState;
  address: string;
  /** Unseal progress while sealed: shares given so far, and how many are needed. */
  progress: number | null;
  threshold: number | null;
  shares: number | null;
  /** A standby node answers, but forwards requests (health 429). */
  standby: boolean;
  version: string | null;
  storage: string | null;
  /** Why it is unreachable (a translated message, never a secret). */
  error: string | null;
}

/** seal-status (and health, once unsealed) read as one state. */
export async function vaultStatus(client: VaultClient): Promise<VaultStatus> {
  const base: VaultStatus = {
    state: 'unreachable',
    address: client.address,
    progress: null,
    threshold: null,
    shares: null,
    standby: false,
    version: null,
    storage: null,
    error: null,
  };
  try {
    const seal = await client.sealStatus();
    const status: VaultStatus = {
      ...base,
      state: !seal.initialized ? 'uninitialized' : seal.sealed ? 'sealed' : 'unsealed',
      progress: seal.initialized ? seal.progress : null,
      threshold: seal.initialized ? seal.t : null,
      shares: seal.initialized ? seal.n : null,
      version: seal.version || null,
      storage: seal.storage_type ?? null,
    };
    if (status.state === 'unsealed') {
      const health = await client.health();
      status.standby = health.status === 429 || health.standby;
    }
    return status;
  } catch (err) {
    if (isVaultError(err)) return { ...base, error: err.message };
    throw err;
  }
}

/** Ready to serve: unsealed and sys/health answers 200 (active) or 429 (standby). */
export async function isServing(client: VaultClient): Promise<boolean> {
  try {
    const health = await client.health();
    return health.status === 200 || health.status === 429;
  } catch (err) {
    if (isVaultError(err, 'unreachable')) return false;
    throw err;
  }
}

/** One line for people. */
export function describeVaultStatus(status: VaultStatus): string {
  switch (status.state) {
    case 'unreachable':
      return `unreachable at ${status.address}`;
    case 'uninitialized':
      return 'not initialized';
    case 'sealed':
      return `sealed (unseal progress ${status.progress ?? 0} of ${status.threshold ?? '?'})`;
    case 'unsealed':
      return status.standby ? 'unsealed (standby)' : 'unsealed';
  }
}
