import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NO_SECRETS, SECRET_SPECS, serviceTokenSecretId } from '../../../src/stack/secrets.js';
import { withHostSecrets } from '../../../src/vault/dev-token.js';
import { VaultClient, isVaultError } from '../../../src/vault/client.js';
import { generateSecret } from '../../../src/vault/generate.js';
import { initVault } from '../../../src/vault/init.js';
import { keysStatus, rotateKeys, planRotation, encryptionKey } from '../../../src/vault/keys.js';
import { KV_MOUNT, servicePolicy } from '../../../src/vault/policies.js';
import { readProviderSecret, setProviderSecret, deleteProviderSecret, listProviderSecrets, MAX_SECRET_BYTES, secretTooLarge } from '../../../src/vault/providers.js';
import { readAll } from '../../../src/vault/input.js';
import { MstingError } from '../../../src/errors.js';
import { Readable } from 'node:stream';
import { ensureStackSecrets, loadSecretsProvider } from '../../../src/vault/stack-secrets.js';
import { vaultStatus } from '../../../src/vault/status.js';
import { serviceTokenFile, VAULT_FILES, readStoredShares } from '../../../src/vault/store.js';
import { ensureUnsealed, submitShares } from '../../../src/vault/unseal.js';
import { configSchema } from '../../../src/config/schema.js';
import { harness, vaultSettings, type Harness } from './helpers.js';

let h: Harness;
afterEach(async () => h?.cleanup());

async function initialized(): Promise<{ admin: VaultClient }> {
  h = await harness();
  await initVault({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir });
  const token = (await readFile(join(h.secretsDir, VAULT_FILES.adminToken), 'utf8')).trim();
  return { admin: h.client.withToken(token) };
}

describe('status and errors', () => {
  it('reports each state as a value: unreachable, uninitialized, sealed with progress, unsealed', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    const nowhere = await vaultStatus(new VaultClient({ address: `http://127.0.0.1:${closed}` }));
    expect(nowhere.state).toBe('unreachable');
    expect(nowhere.error).toMatch(/not reachable/);

    h = await harness();
    expect((await vaultStatus(h.client)).state).toBe('uninitialized');
    await initVault({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir });
    h.emulator.sealNow();
    const shares = (await readStoredShares(h.secretsDir))!.keys_base64;
    await h.client.unseal(shares[0]!);
    const sealed = await vaultStatus(h.client);
    expect(sealed).toMatchObject({ state: 'sealed', progress: 1, threshold: 3, shares: 5 });
    await submitShares(h.client, shares.slice(1, 3));
    expect((await vaultStatus(h.client)).state).toBe('unsealed');
  });

  it('a server at the address that is not Vault, or answers 503, is reported as such, not as uninitialized', async () => {
    let answer: { status: number; body: string } = { status: 503, body: '{"errors":[]}' };
    const server = createHttpServer((_req, res) => res.writeHead(answer.status, { 'Content-Type': 'text/html' }).end(answer.body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = new VaultClient({ address: `http://127.0.0.1:${(server.address() as { port: number }).port}` });
      await expect(client.sealStatus()).rejects.toSatisfy((e) => isVaultError(e, 'unavailable'));
      answer = { status: 200, body: '<html>a web server</html>' };
      const status = await vaultStatus(client);
      expect(status.state).toBe('unreachable');
      expect(status.error).toMatch(/answered, but not as Vault does/);
      answer = { status: 200, body: `{"initialized":true,"sealed":false,"pad":"${'x'.repeat(200_000)}"}` };
      await expect(client.sealStatus()).rejects.toThrow(/answered, but not as Vault does/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('translates sealed, permission denied, missing token and missing path into kinds with a next step', async () => {
    const { admin } = await initialized();
    await expect(admin.kvRead(KV_MOUNT, 'nothing/here')).resolves.toBeUndefined();
    const missing = await admin.kvMetadata(KV_MOUNT, 'nothing/here');
    expect(missing).toBeUndefined();
    const bad = h.client.withToken('hvs.not-a-token');
    await expect(bad.kvRead(KV_MOUNT, 'db/app')).rejects.toSatisfy((e) => isVaultError(e, 'permission-denied') && /msting vault status/.test(String((e as { hint: string }).hint)));
    await expect(h.client.kvRead(KV_MOUNT, 'db/app')).rejects.toSatisfy((e) => isVaultError(e, 'missing-token'));
    h.emulator.sealNow();
    await expect(admin.kvRead(KV_MOUNT, 'db/app')).rejects.toSatisfy(
      (e) => isVaultError(e, 'sealed') && /msting unseal/.test(String((e as { hint: string }).hint)) && /0 of 3/.test((e as Error).message),
    );
  });
});

describe('unseal', () => {
  it('tells a wrong share apart: a share from another init is refused and progress resets', async () => {
    await initialized();
    const other = await harness();
    try {
      await initVault({ client: other.client, settings: vaultSettings(), secretsDir: other.secretsDir });
      const foreign = (await readStoredShares(other.secretsDir))!.keys_base64;
      const mine = (await readStoredShares(h.secretsDir))!.keys_base64;
      h.emulator.sealNow();
      const progress: number[] = [];
      await expect(submitShares(h.client, [mine[0]!, mine[1]!, foreign[0]!], (p) => progress.push(p.progress))).rejects.toThrow(/progress went back to 0 of 3/);
      expect(progress).toEqual([1, 2]);
      const after = await h.client.sealStatus();
      expect(after).toMatchObject({ sealed: true, progress: 0 });
      await submitShares(h.client, mine.slice(2, 5));
      expect((await h.client.sealStatus()).sealed).toBe(false);
    } finally {
      await other.cleanup();
    }
  });

  it('ensureUnsealed unseals with the stored shares and waits until Vault serves', async () => {
    await initialized();
    h.emulator.sealNow();
    const states: string[] = [];
    const status = await ensureUnsealed({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir, onState: (s) => states.push(s.state), timeoutMs: 5000 });
    expect(status.state).toBe('unsealed');
    expect(states[0]).toBe('sealed');
    expect(h.emulator.requests.some((r) => r.path === '/v1/sys/health' && r.status === 200)).toBe(true);
  });

  it('ensureUnsealed does not unseal when auto_unseal is off, and says what to run', async () => {
    await initialized();
    h.emulator.sealNow();
    await expect(ensureUnsealed({ client: h.client, settings: vaultSettings({ auto_unseal: false }), secretsDir: h.secretsDir, timeoutMs: 2000 })).rejects.toSatisfy(
      (e) => isVaultError(e, 'sealed') && /msting unseal/.test(String((e as { hint: string }).hint)),
    );
    expect(h.emulator.sealed).toBe(true);
  });

  it('ensureUnsealed on an uninitialized Vault names `msting vault init`', async () => {
    h = await harness();
    await expect(ensureUnsealed({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir, timeoutMs: 2000 })).rejects.toSatisfy(
      (e) => isVaultError(e, 'uninitialized') && /msting vault init/.test(String((e as { hint: string }).hint)),
    );
  });
});

describe('least privilege', () => {
  it("a service's token reads its own secrets and nothing else", async () => {
    const { admin } = await initialized();
    const app = h.client.withToken((await readFile(join(h.secretsDir, serviceTokenFile('app')), 'utf8')).trim());
    expect((await app.lookupSelf()).policies).toEqual(['default', 'msting-svc-app']);
    expect((await app.kvRead(KV_MOUNT, 'app/flask'))?.data.secret_key).toHaveLength(64);
    expect((await app.kvRead(KV_MOUNT, 'db/app'))?.data.password).toHaveLength(32);
    for (const foreign of ['kratos/secrets', 'db/postgres', 'db/kratos', 'grafana/admin', 'backup/key']) {
      await expect(app.kvRead(KV_MOUNT, foreign), foreign).rejects.toSatisfy((e) => isVaultError(e, 'permission-denied'));
    }
    await expect(app.kvWrite(KV_MOUNT, 'app/flask', { secret_key: 'x' })).rejects.toSatisfy((e) => isVaultError(e, 'permission-denied'));
    // msting's admin token is not root either: it cannot seal Vault.
    expect((await admin.lookupSelf()).policies).not.toContain('root');
  });

  it("the app's token does what STING-CE's app does in Vault: files, the Bee API key, the mount check", async () => {
    await initialized();
    const app = h.client.withToken((await readFile(join(h.secretsDir, serviceTokenFile('app')), 'utf8')).trim());
    // app/utils/vault_file_client.py: list mounts, then store, read, list and delete files/<id>.
    expect(Object.keys(await app.mounts())).toContain('sting/');
    await app.kvWrite(KV_MOUNT, 'files/f-1', { data: 'aGVsbG8=', filename: 'a.txt' });
    expect((await app.kvRead(KV_MOUNT, 'files/f-1'))?.data.filename).toBe('a.txt');
    expect(await app.kvList(KV_MOUNT, 'files')).toEqual(['f-1']);
    await app.kvDestroyAll(KV_MOUNT, 'files/f-1');
    expect(await app.kvRead(KV_MOUNT, 'files/f-1')).toBeUndefined();
    // app/routes/bootstrap_routes.py stores the Bee service API key it creates.
    await app.kvWrite(KV_MOUNT, 'service/bee-api-key', { api_key: 'k', key_id: 'id' });
    // Nothing beyond that: not another service's folder, not the mount table.
    await expect(app.kvWrite(KV_MOUNT, 'service/other', { x: 'y' })).rejects.toSatisfy((e) => isVaultError(e, 'permission-denied'));
    await expect(app.kvRead(KV_MOUNT, 'kratos/secrets')).rejects.toSatisfy((e) => isVaultError(e, 'permission-denied'));
    await expect(app.enableKv2('other', 'x')).rejects.toSatisfy((e) => isVaultError(e, 'permission-denied'));
  });

  it("a render hands the app its own token (for VAULT_TOKEN), read from the file vault init wrote", async () => {
    h = await harness();
    const before = await withHostSecrets(NO_SECRETS, { vault: vaultSettings() }, h.home);
    expect(before.get(serviceTokenSecretId('app'))).toBeUndefined();
    await initVault({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir });
    const token = (await readFile(join(h.secretsDir, serviceTokenFile('app')), 'utf8')).trim();
    const provider = await withHostSecrets(NO_SECRETS, { vault: vaultSettings() }, h.home);
    expect(provider.get(serviceTokenSecretId('app'))).toBe(token);
    expect((await h.client.withToken(token).lookupSelf()).policies).toEqual(['default', 'msting-svc-app']);
  });

  it('a policy naming sting/<path> instead of sting/data/<path> grants nothing (KV v2)', async () => {
    h = await harness();
    const init = await h.client.init(1, 1);
    await h.client.unseal(init.keys_base64[0]!);
    const root = h.client.withToken(init.root_token);
    await root.enableKv2('sting', 'test');
    await root.kvWrite(KV_MOUNT, 'db/app', { password: 'p' });
    await root.putPolicy('wrong', 'path "sting/db/app" {\n  capabilities = ["read"]\n}\n');
    await root.putPolicy('right', servicePolicy('app'));
    const wrong = h.client.withToken((await root.createToken({ policies: ['wrong'], displayName: 't' })).token);
    const right = h.client.withToken((await root.createToken({ policies: ['right'], displayName: 't' })).token);
    await expect(wrong.kvRead(KV_MOUNT, 'db/app')).rejects.toSatisfy((e) => isVaultError(e, 'permission-denied'));
    expect((await right.kvRead(KV_MOUNT, 'db/app'))?.data.password).toBe('p');
    // 403 comes before 404: a path the token may not read is denied even when absent.
    await expect(wrong.kvRead(KV_MOUNT, 'nothing')).rejects.toSatisfy((e) => isVaultError(e, 'permission-denied'));
  });
});

describe('secrets', () => {
  it('generates every declared secret with its exact length and alphabet', () => {
    const patterns = { hex: /^[0-9a-f]+$/, alnum: /^[A-Za-z0-9]+$/, base64: /^[A-Za-z0-9+/]+=*$/, urlsafe: /^[A-Za-z0-9_-]+$/ };
    for (const spec of SECRET_SPECS) {
      const value = generateSecret(spec.generator);
      expect(value, spec.id).toHaveLength(spec.generator.length);
      expect(value, spec.id).toMatch(patterns[spec.generator.alphabet]);
    }
    expect(Buffer.from(generateSecret({ alphabet: 'base64', length: 44 }), 'base64')).toHaveLength(32);
    const many = new Set(Array.from({ length: 200 }, () => generateSecret({ alphabet: 'alnum', length: 32 })));
    expect(many.size).toBe(200);
  });

  it('never overwrites a rotated secret, and adds a key that is new in the list', async () => {
    const { admin } = await initialized();
    await admin.kvWrite(KV_MOUNT, 'grafana/admin', { password: 'rotated-by-hand', secret_key: 'kept' }, 1);
    const specs = [...SECRET_SPECS, { id: 'grafana.extra', path: 'grafana/admin', key: 'extra', description: 'x', generator: { alphabet: 'hex' as const, length: 8 }, consumers: ['grafana'] }];
    const result = await ensureStackSecrets(admin, specs);
    expect(result.created).toEqual(['grafana.extra']);
    const doc = await admin.kvRead(KV_MOUNT, 'grafana/admin');
    expect(doc?.data.password).toBe('rotated-by-hand');
    expect(doc?.data.extra).toMatch(/^[0-9a-f]{8}$/);
  });

  it('the provider reads each path once and resolves vault-refs', async () => {
    const { admin } = await initialized();
    await setProviderSecret(admin, 'openai', 'sk-test-value');
    const config = configSchema.parse({ mail: { smtp: { host: 'vault-ref:providers/openai#api_key' } } });
    const before = h.emulator.requests.length;
    const provider = await loadSecretsProvider(admin, { config });
    const reads = h.emulator.requests.slice(before).filter((r) => r.method === 'GET');
    expect(reads.length).toBe(new Set([...SECRET_SPECS.map((s) => s.path), 'providers/openai']).size);
    expect(provider.get('kratos.cipher')).toHaveLength(32);
    expect(provider.get('unknown.id')).toBeUndefined();
    expect(provider.resolveRef('providers/openai', 'api_key')).toBe('sk-test-value');
    expect(provider.resolveRef('sting/providers/openai', 'api_key')).toBe('sk-test-value');
    expect(provider.resolveRef('providers/none', 'api_key')).toBeUndefined();
  });

  it('provider keys: set, read (for the model downloader), list, delete', async () => {
    const { admin } = await initialized();
    expect(await readProviderSecret(admin, 'huggingface')).toBeUndefined();
    await setProviderSecret(admin, 'huggingface', 'hf_abc');
    await setProviderSecret(admin, 'huggingface', 'hf_def');
    expect(await readProviderSecret(admin, 'huggingface')).toBe('hf_def');
    expect(await listProviderSecrets(admin)).toMatchObject([{ provider: 'huggingface', version: 2 }]);
    expect(await deleteProviderSecret(admin, 'huggingface')).toBe(true);
    expect(await readProviderSecret(admin, 'huggingface')).toBeUndefined();
    expect(await deleteProviderSecret(admin, 'huggingface')).toBe(false);
    await expect(setProviderSecret(admin, 'Bad Name', 'x')).rejects.toThrow(/not a provider name/);
  });

  it('vault-secret set refuses a value over 16 KiB (exit 2) and writes nothing; an endless pipe is cut off', async () => {
    const { admin } = await initialized();
    await setProviderSecret(admin, 'openai', 'k'.repeat(MAX_SECRET_BYTES));
    expect(await readProviderSecret(admin, 'openai')).toHaveLength(16 * 1024);
    const before = h.emulator.requests.length;
    const err = await setProviderSecret(admin, 'anthropic', 'k'.repeat(MAX_SECRET_BYTES + 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MstingError);
    expect((err as MstingError).exitCode).toBe(2);
    expect((err as MstingError).message).toMatch(/16385 bytes; the limit is 16 KiB .*nothing was stored/);
    expect(h.emulator.requests.slice(before)).toEqual([]);
    expect(await readProviderSecret(admin, 'anthropic')).toBeUndefined();

    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 4096;
        this.push(Buffer.alloc(4096, 0x61));
      },
    });
    const cut = await readAll(endless, undefined, { bytes: MAX_SECRET_BYTES + 2, tooLarge: secretTooLarge }).catch((e: unknown) => e);
    expect((cut as MstingError).message).toMatch(/over 16384 bytes/);
    expect(produced).toBeLessThan(1024 * 1024);
  });
});

describe('encryption keys', () => {
  it('rotation writes a new version, re-renders, and restarts only the users of the key', async () => {
    const { admin } = await initialized();
    const before = await admin.kvRead(KV_MOUNT, 'kratos/secrets');
    const calls: string[] = [];
    const restarted: string[][] = [];
    const result = await rotateKeys(admin, [encryptionKey('kratos.cookie')], {
      rerender: async () => void calls.push('render'),
      restart: async (services) => void restarted.push(services),
    });
    const after = await admin.kvRead(KV_MOUNT, 'kratos/secrets');
    expect(after?.version).toBe(2);
    expect(after?.data.cookie).not.toBe(before?.data.cookie);
    expect(after?.data.cookie).toHaveLength(32);
    expect(after?.data.cipher).toBe(before?.data.cipher);
    expect(result.rotated).toEqual([{ id: 'kratos.cookie', version: 2 }]);
    expect(calls).toEqual(['render']);
    expect(restarted).toEqual([['kratos']]);

    const status = await keysStatus(admin);
    const cookie = status.find((k) => k.id === 'kratos.cookie');
    expect(cookie).toMatchObject({ present: true, version: 2, ageDays: 0 });
    expect(cookie?.lastRotation).toMatch(/^\d{4}-/);
    expect(status.find((k) => k.id === 'app.flask')?.lastRotation).toBeNull();
  });

  it('rotating the app keys restarts the app only; by default data-destroying keys are left alone', async () => {
    const { admin } = await initialized();
    const restarted: string[][] = [];
    await rotateKeys(admin, [encryptionKey('app.flask')], { rerender: async () => undefined, restart: async (s) => void restarted.push(s) });
    expect(restarted).toEqual([['app']]);
    const plan = planRotation(undefined).map((k) => k.id);
    expect(plan).not.toContain('app.field_key');
    expect(plan).toContain('kratos.cookie');
    expect(() => planRotation('nope')).toThrow(/not an encryption key/);
  });
});
