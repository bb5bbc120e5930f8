import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { cpuFallbackRecommendation } from '../../../src/hardware/types.js';
import { renderForStart } from '../../../src/lifecycle/render-step.js';
import { vaultStartHooks, type VaultStepDeps } from '../../../src/lifecycle/vault-step.js';
import { NO_SECRETS, SECRET_SPECS, mapSecretsProvider } from '../../../src/stack/secrets.js';
import { VaultError } from '../../../src/vault/client.js';
import type { VaultStatus } from '../../../src/vault/status.js';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'msting-vault-step-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

const unsealed: VaultStatus = { state: 'unsealed', address: 'http://127.0.0.1:8200', progress: null, threshold: 3, shares: 5, standby: false, version: null, storage: null, error: null };
const all = mapSecretsProvider(Object.fromEntries(SECRET_SPECS.map((s) => [s.id, `value-of-${s.id}`])));

function input(config = configSchema.parse({})) {
  const messages: string[] = [];
  const warnings: string[] = [];
  return {
    messages,
    warnings,
    step: {
      config,
      profile: 'default',
      home,
      env: {},
      signal: new AbortController().signal,
      recommendation: cpuFallbackRecommendation([]),
      onMessage: (m: string) => messages.push(m),
      onWarning: (m: string) => warnings.push(m),
    },
  };
}

describe('the Vault step of start', () => {
  it('does nothing for services other than vault', async () => {
    const calls: string[] = [];
    const deps: VaultStepDeps = { bringUp: async () => (calls.push('bringUp'), Promise.reject(new Error('no'))), secrets: async () => NO_SECRETS, render: renderForStart };
    const hooks = vaultStartHooks(input().step, deps);
    expect(await hooks.afterService!('db')).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it('after vault is up: unseals, then renders the env files with the secrets Vault holds and reports them as changed', async () => {
    const { step, messages } = input();
    // The first render of start, before Vault serves: no secrets.
    await renderForStart({ ...step, secrets: NO_SECRETS });
    const order: string[] = [];
    const deps: VaultStepDeps = {
      bringUp: async (i) => {
        order.push(`bringUp bootstrap=${i.bootstrap}`);
        return { status: unsealed, initializedNow: false, sharesPath: null, autoUnseal: true, bootstrapped: false, secretsCreated: [], warnings: [] };
      },
      secrets: async () => (order.push('secrets'), all),
      render: async (r) => (order.push('render'), renderForStart(r)),
    };
    const result = await vaultStartHooks(step, deps).afterService!('vault');
    expect(order).toEqual(['bringUp bootstrap=false', 'secrets', 'render']);
    expect(result?.changedFiles).toContain('env/db.env');
    const db = await readFile(join(home, 'env', 'db.env'), 'utf8');
    expect(db).toContain('POSTGRES_PASSWORD=');
    expect(db).toContain('value-of-db.postgres');
    expect(messages.join('\n')).toMatch(/Vault is unsealed/);
  });

  it('a sealed Vault that cannot be unsealed stops the start with exit 5, before anything is rendered', async () => {
    let rendered = false;
    const deps: VaultStepDeps = {
      bringUp: async () => {
        throw new VaultError('sealed', 'Vault is sealed (unseal progress 0 of 3); the services that need it were not started', { hint: 'vault.auto_unseal is off: run `msting unseal`' });
      },
      secrets: async () => all,
      render: async (r) => ((rendered = true), renderForStart(r)),
    };
    const err = await vaultStartHooks(input().step, deps).afterService!('vault').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultError);
    expect((err as VaultError).exitCode).toBe(5);
    expect((err as VaultError).hint).toMatch(/msting unseal/);
    expect(rendered).toBe(false);
  });
});

describe("the Vault step rotates Vault's audit log", () => {
  const unsealedBringUp: VaultStepDeps['bringUp'] = async () => ({ status: unsealed, initializedNow: false, sharesPath: null, autoUnseal: true, bootstrapped: false, secretsCreated: [], warnings: [] });

  it('once Vault is unsealed, and says so when it rotated', async () => {
    const { step, messages, warnings } = input();
    const order: string[] = [];
    const deps: VaultStepDeps = {
      bringUp: async (i) => (order.push('bringUp'), unsealedBringUp(i)),
      secrets: async () => (order.push('secrets'), all),
      render: renderForStart,
      rotateAuditLog: async () => (order.push('rotate'), { rotated: true, file: '/vault/logs/audit.log', sizeBytes: 60 * 1024 * 1024, kept: ['a', 'b', 'c'] }),
    };
    await vaultStartHooks(step, deps).afterService!('vault');
    expect(order).toEqual(['bringUp', 'rotate', 'secrets']);
    expect(messages.join('\n')).toMatch(/audit log rotated at 60(\.0)? MiB/);
    expect(warnings).toEqual([]);
  });

  it('a rotation that fails is a warning and the start goes on', async () => {
    const { step, warnings } = input();
    const deps: VaultStepDeps = {
      bringUp: unsealedBringUp,
      secrets: async () => all,
      render: renderForStart,
      rotateAuditLog: async () => {
        throw new Error('`mv -f /vault/logs/audit.log /vault/logs/audit.log.1` failed in the vault container: Permission denied');
      },
    };
    const result = await vaultStartHooks(step, deps).afterService!('vault');
    expect(result?.changedFiles).toContain('env/db.env');
    expect(warnings).toEqual([expect.stringMatching(/audit log was not rotated: .*Permission denied/)]);
  });
});

describe('the shared render step', () => {
  it('keeps an env file whose secrets it cannot read, and does not remove it as stale', async () => {
    const { step } = input();
    await renderForStart({ ...step, secrets: all });
    const before = await readFile(join(home, 'env', 'db.env'), 'utf8');
    const r = await renderForStart({ ...step, secrets: NO_SECRETS });
    expect(r.kept).toContain('env/db.env');
    expect(r.report.removed).toEqual([]);
    expect(await readFile(join(home, 'env', 'db.env'), 'utf8')).toBe(before);
    // The next render with secrets finds it in the manifest as before.
    expect(await readFile(join(home, 'compose', '.msting-rendered.json'), 'utf8')).toContain('env/db.env');
    const third = await renderForStart({ ...step, secrets: NO_SECRETS });
    expect(third.report.removed).toEqual([]);
  });

  it('dev mode: generates the dev root token once (0600) and passes it to vault through its env file only', async () => {
    const config = configSchema.parse({ vault: { mode: 'dev' } });
    const { step } = input(config);
    await mkdir(join(home, 'secrets'), { recursive: true });
    await renderForStart({ ...step, secrets: NO_SECRETS });
    const token = (await readFile(join(home, 'secrets', 'vault-root-token'), 'utf8')).trim();
    expect(token.length).toBeGreaterThan(20);
    expect((await stat(join(home, 'secrets', 'vault-root-token'))).mode & 0o777).toBe(0o600);
    const env = await readFile(join(home, 'env', 'vault.env'), 'utf8');
    expect(env).toContain(`VAULT_DEV_ROOT_TOKEN_ID=`);
    expect(env).toContain(token);
    expect((await stat(join(home, 'env', 'vault.env'))).mode & 0o777).toBe(0o600);
    const compose = await readFile(join(home, 'compose', 'docker-compose.yml'), 'utf8');
    expect(compose).not.toContain(token);
    // Stable across renders.
    await renderForStart({ ...step, secrets: NO_SECRETS });
    expect((await readFile(join(home, 'secrets', 'vault-root-token'), 'utf8')).trim()).toBe(token);
  });
});
