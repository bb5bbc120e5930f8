import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, type MstingConfig } from '../../../src/config/schema.js';
import { VaultClient } from '../../../src/vault/client.js';
import { startVaultEmulator, type EmulatorOptions, type VaultEmulator } from '../../vault-emulator/server.js';

export interface Harness {
  emulator: VaultEmulator;
  address: string;
  client: VaultClient;
  home: string;
  secretsDir: string;
  cleanup: () => Promise<void>;
}

export function vaultSettings(overrides: Partial<MstingConfig['vault']> = {}): MstingConfig['vault'] {
  return { ...configSchema.parse({}).vault, ...overrides };
}

export async function harness(options: EmulatorOptions = {}): Promise<Harness> {
  const { emulator, address } = await startVaultEmulator(options);
  const home = await mkdtemp(join(tmpdir(), 'msting-vault-'));
  return {
    emulator,
    address,
    client: new VaultClient({ address, timeoutMs: 5000 }),
    home,
    secretsDir: join(home, 'secrets'),
    cleanup: async () => {
      await emulator.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}
