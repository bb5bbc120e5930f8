import { mkdir, readFile, stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initVault } from '../../../src/vault/init.js';
import { KV_MOUNT, servicePolicyName } from '../../../src/vault/policies.js';
import { readStoredShares, VAULT_FILES, serviceTokenFile } from '../../../src/vault/store.js';
import { SECRET_SPECS } from '../../../src/stack/secrets.js';
import { vaultStatus } from '../../../src/vault/status.js';
import { harness, vaultSettings, type Harness } from './helpers.js';

let h: Harness;
afterEach(async () => h?.cleanup());

describe('initVault', () => {
  it('initializes, stores shares 0600 before unsealing, bootstraps and revokes the root token', async () => {
    h = await harness();
    const steps: string[] = [];
    const result = await initVault({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir, onStep: (s) => steps.push(s.id) });
    expect(result.initializedNow).toBe(true);
    expect(result.shares).toBe(5);
    expect(result.threshold).toBe(3);
    expect(steps.indexOf('shares-stored')).toBeLessThan(steps.indexOf('unsealed'));
    expect(result.rootToken).toBe('revoked');
    expect((await vaultStatus(h.client)).state).toBe('unsealed');

    const dir = await stat(h.secretsDir);
    expect(dir.mode & 0o777).toBe(0o700);
    for (const name of await readdir(h.secretsDir)) expect((await stat(join(h.secretsDir, name))).mode & 0o777).toBe(0o600);
    expect(await readdir(h.secretsDir)).toEqual(expect.arrayContaining([VAULT_FILES.unsealKeys, VAULT_FILES.adminToken, serviceTokenFile('app')]));
    expect(await readdir(h.secretsDir)).not.toContain(VAULT_FILES.rootToken);
    expect((await readStoredShares(h.secretsDir))?.keys_base64).toHaveLength(5);

    const admin = h.client.withToken((await readFile(join(h.secretsDir, VAULT_FILES.adminToken), 'utf8')).trim());
    for (const spec of SECRET_SPECS) {
      const secret = await admin.kvRead(KV_MOUNT, spec.path);
      expect(secret?.data[spec.key], spec.id).toHaveLength(spec.generator.length);
    }
    expect(result.secretsCreated).toHaveLength(SECRET_SPECS.length);
    expect(result.policies).toContain(servicePolicyName('kratos'));
  });

  it('is safe to run twice: no second init, no secret overwritten', async () => {
    h = await harness();
    await initVault({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir });
    const shares = await readFile(join(h.secretsDir, VAULT_FILES.unsealKeys), 'utf8');
    const admin = h.client.withToken((await readFile(join(h.secretsDir, VAULT_FILES.adminToken), 'utf8')).trim());
    const before = await admin.kvRead(KV_MOUNT, 'kratos/secrets');
    const again = await initVault({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir });
    expect(again.initializedNow).toBe(false);
    expect(again.secretsCreated).toEqual([]);
    expect(again.secretsExisting).toHaveLength(SECRET_SPECS.length);
    expect(await readFile(join(h.secretsDir, VAULT_FILES.unsealKeys), 'utf8')).toBe(shares);
    expect(await admin.kvRead(KV_MOUNT, 'kratos/secrets')).toEqual(before);
    expect(h.emulator.requests.filter((r) => r.method === 'PUT' && r.path === '/v1/sys/init')).toHaveLength(1);
  });

  it('refuses to init a fresh Vault while shares from an earlier init are stored', async () => {
    h = await harness();
    await initVault({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir });
    const other = await harness();
    try {
      await expect(initVault({ client: other.client, settings: vaultSettings(), secretsDir: h.secretsDir })).rejects.toThrow(/shares from an earlier init/);
      expect(other.emulator.initialized).toBe(false);
    } finally {
      await other.cleanup();
    }
  });

  it('--shares-file writes the shares there and keeps none on the host', async () => {
    h = await harness();
    const file = join(h.home, 'shares.txt');
    const result = await initVault({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir, sharesFile: file });
    expect(result.autoUnseal).toBe(false);
    expect(await readStoredShares(h.secretsDir)).toBeUndefined();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toHaveLength(5);
  });

  it('keeps the root token when asked, with a warning', async () => {
    h = await harness();
    const result = await initVault({ client: h.client, settings: vaultSettings({ keep_root_token: true }), secretsDir: h.secretsDir });
    expect(result.rootToken).toBe('kept');
    expect(result.warnings.join()).toMatch(/root token is kept/);
    const root = (await readFile(join(h.secretsDir, VAULT_FILES.rootToken), 'utf8')).trim();
    expect((await h.client.withToken(root).lookupSelf()).policies).toContain('root');
  });

  it('1 of 1 works only when asked, with a warning; 5 shares with threshold 1 is refused', async () => {
    h = await harness();
    await expect(initVault({ client: h.client, settings: vaultSettings({ shares: 5, threshold: 1 }), secretsDir: h.secretsDir })).rejects.toThrow(/at least 2/);
    const result = await initVault({ client: h.client, settings: vaultSettings({ shares: 1, threshold: 1 }), secretsDir: h.secretsDir });
    expect(result.shares).toBe(1);
    expect(result.warnings.join()).toMatch(/single unseal key/);
  });

  it('enables Vault\'s file audit device once; a file Vault cannot open is a warning, not a failed init', async () => {
    h = await harness();
    const auditFile = join(h.home, 'vault-logs', 'audit.log');
    await mkdir(join(h.home, 'vault-logs'));
    const steps: string[] = [];
    const first = await initVault({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir, auditFile, onStep: (s) => steps.push(s.message) });
    expect(first.warnings).toEqual([]);
    expect(steps).toContain(`enabled Vault's file audit device (${auditFile})`);
    const admin = h.client.withToken((await readFile(join(h.secretsDir, VAULT_FILES.adminToken), 'utf8')).trim());
    expect(await admin.auditDevices()).toMatchObject({ 'msting-file/': { type: 'file', options: { file_path: auditFile } } });
    await initVault({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir, auditFile });
    expect(h.emulator.requests.filter((r) => r.method === 'PUT' && r.path === '/v1/sys/audit/msting-file')).toHaveLength(1);

    const other = await harness();
    try {
      const result = await initVault({ client: other.client, settings: vaultSettings(), secretsDir: other.secretsDir, auditFile: join(other.home, 'missing-volume', 'audit.log') });
      expect(result.warnings.join('\n')).toMatch(/could not open its audit log .*missing-volume\/audit\.log.*mounts a writable volume at/);
      expect(result.secretsCreated).toHaveLength(SECRET_SPECS.length);
    } finally {
      await other.cleanup();
    }
  });
});
