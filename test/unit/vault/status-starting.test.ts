import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { vaultSummary } from '../../../src/vault/lifecycle.js';
import { describeVaultStatus, findVaultContainer, silentVaultState, withContainerState, type VaultStatus } from '../../../src/vault/status.js';

const silent: VaultStatus = {
  state: 'unreachable',
  address: 'http://127.0.0.1:8200',
  progress: null,
  threshold: null,
  shares: null,
  standby: false,
  version: null,
  storage: null,
  error: 'Vault is not reachable at http://127.0.0.1:8200',
};

describe('a Vault that does not answer', () => {
  it('is starting while its container runs and its health check has not passed yet, or restarts', () => {
    expect(silentVaultState({ state: 'running', health: 'starting' })).toBe('starting');
    expect(silentVaultState({ state: 'restarting', health: 'none' })).toBe('starting');
  });

  it('is unreachable with no container, a stopped one, or one up long enough for its check to have passed or given up', () => {
    expect(silentVaultState(undefined)).toBe('unreachable');
    expect(silentVaultState({ state: 'exited', health: 'none' })).toBe('unreachable');
    expect(silentVaultState({ state: 'running', health: 'healthy' })).toBe('unreachable');
    expect(silentVaultState({ state: 'running', health: 'unhealthy' })).toBe('unreachable');
  });

  it('only a silent Vault is corrected by its container; one that answers keeps its state', () => {
    const starting = withContainerState(silent, { state: 'running', health: 'starting' });
    expect(starting.state).toBe('starting');
    expect(describeVaultStatus(starting)).toBe('starting at http://127.0.0.1:8200 (its container runs; Vault does not answer yet)');
    const sealed: VaultStatus = { ...silent, state: 'sealed', progress: 0, threshold: 2, error: null };
    expect(withContainerState(sealed, { state: 'running', health: 'starting' })).toBe(sealed);
  });

  it('the install\'s vault container is looked up by service; an engine that fails leaves it unknown', async () => {
    const listed = [
      { service: 'db', state: 'running', health: 'healthy' },
      { service: 'vault', state: 'exited', health: 'none' },
      { service: 'vault', state: 'running', health: 'starting' },
    ];
    expect(await findVaultContainer({ listContainers: async () => listed }, 'p')).toMatchObject({ state: 'running', health: 'starting' });
    expect(await findVaultContainer({ listContainers: () => Promise.reject(new Error('engine down')) }, 'p')).toBeUndefined();
  });

  it('status: a restarting vault container is starting, a stopped one unreachable, without asking Vault', async () => {
    const config = configSchema.parse({});
    const ctx = { home: '/nonexistent', env: {} };
    expect(await vaultSummary(config, ctx, { state: 'restarting', health: 'none' })).toMatchObject({ state: 'starting', detail: 'the vault container is restarting', address: null });
    expect(await vaultSummary(config, ctx, { state: 'exited', health: 'none' })).toMatchObject({ state: 'unreachable', detail: 'the vault container is not running' });
    expect(await vaultSummary(config, ctx, undefined)).toMatchObject({ state: 'unreachable' });
  });
});
