import { isVaultError, type VaultClient } from './client.js';

/**
 * Vault as `status` shows it. Expected states are values: nothing here throws for them.
 * `starting`: its container runs (or restarts) but Vault does not answer yet, as in the seconds
 * after `docker restart`; only a caller that knows the container can tell (`withContainerState`).
 */
export type VaultState = 'uninitialized' | 'sealed' | 'unsealed' | 'starting' | 'unreachable';

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
  /** Why it is unreachable or starting (a translated message, never a secret). */
  error: string | null;
}

/** The vault container as the engine lists it: `running`, `restarting`, `exited`, ...; health `starting` until its check first passes. */
export interface VaultContainerState {
  state: string;
  health: string;
}

/**
 * What a Vault that does not answer is, from its container: `starting` while the container runs
 * and its health check has not passed yet (Docker resets it to `starting` on every start), or
 * while the engine restarts it; otherwise (no container, stopped, or up long enough for its check
 * to have passed or given up) `unreachable`.
 */
export function silentVaultState(container: VaultContainerState | undefined): 'starting' | 'unreachable' {
  if (container?.state === 'restarting') return 'starting';
  return container?.state === 'running' && container.health === 'starting' ? 'starting' : 'unreachable';
}

/**
 * The state of the install's vault container, for a Vault that did not answer; undefined when
 * there is none or the engine cannot say (Docker down: Vault stays `unreachable`).
 */
export async function findVaultContainer(
  engine: { listContainers(project: string): Promise<Array<VaultContainerState & { service: string }>> },
  project: string,
): Promise<VaultContainerState | undefined> {
  const containers = await engine.listContainers(project).catch(() => []);
  return containers.find((c) => c.service === 'vault' && c.state === 'running') ?? containers.find((c) => c.service === 'vault');
}

/** A status read from Vault itself, corrected by its container when Vault did not answer. */
export function withContainerState(status: VaultStatus, container: VaultContainerState | undefined): VaultStatus {
  if (status.state !== 'unreachable' || silentVaultState(container) !== 'starting') return status;
  return { ...status, state: 'starting' };
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
    case 'starting':
      return `starting at ${status.address} (its container runs; Vault does not answer yet)`;
    case 'uninitialized':
      return 'not initialized';
    case 'sealed':
      return `sealed (unseal progress ${status.progress ?? 0} of ${status.threshold ?? '?'})`;
    case 'unsealed':
      return status.standby ? 'unsealed (standby)' : 'unsealed';
  }
}
